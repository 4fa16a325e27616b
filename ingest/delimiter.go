package ingest

import "fmt"

// ParseDelimiter reads the delimiter a sender names for a CSV body: ","
// ";" or "tab" (a tab character is taken too); "" is 0, detect it from
// the header row. The ingest API's ?delimiter= and the dashboard's upload
// form both read it here.
func ParseDelimiter(s string) (rune, error) {
	switch s {
	case "":
		return 0, nil
	case ",":
		return ',', nil
	case ";":
		return ';', nil
	case "tab", "\t":
		return '\t', nil
	}
	return 0, fmt.Errorf("delimiter %q: want , (comma), ; (semicolon) or tab; leave it out to detect it from the header row", s)
}

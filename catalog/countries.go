package catalog

//go:generate go run gen_countries.go

// CountryName is the English short name of an ISO 3166-1 alpha-2 code
// ("BR" → "Brazil"), from CLDR through golang.org/x/text (countries_table.go,
// generated); a code it does not know is its own name.
func CountryName(code string) string {
	if n, ok := countryNames[code]; ok {
		return n
	}
	return code
}

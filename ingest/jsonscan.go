package ingest

import (
	"errors"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// A hand-written scanner for the flat JSON objects events are: it walks the
// bytes once, allocates nothing for keys or unescaped values (they are
// sub-slices of the input), and still rejects everything encoding/json
// rejects (FuzzNDJSON checks that against encoding/json). encoding/json
// through a struct of json.RawMessage scans every line twice and allocates
// per field; at 150k events/s that difference is most of a core.

type jsonKind uint8

const (
	kindString jsonKind = iota + 1
	kindNumber
	kindTrue
	kindFalse
	kindNull
	kindObject
	kindArray
)

func (k jsonKind) String() string {
	switch k {
	case kindString:
		return "a string"
	case kindNumber:
		return "a number"
	case kindTrue, kindFalse:
		return "a boolean"
	case kindNull:
		return "null"
	case kindObject:
		return "an object"
	case kindArray:
		return "an array"
	}
	return "?"
}

var errSyntax = errors.New("not valid JSON")

const maxDepth = 10000

type scanner struct {
	b   []byte
	i   int
	buf []byte // unescape scratch, reused
	key []byte // key scratch, reused
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// memberFunc takes one member of an object: a string value unescaped,
// other values raw. The slices are valid until the next call.
type memberFunc func(key []byte, kind jsonKind, val []byte)

// nestFunc is offered each member before its value is scanned; when it
// returns true it has scanned the value at s.i itself. A nested object
// the caller wants is so walked once, in place, instead of skipped and
// then walked again (an SDK batch, its messages and their properties
// were each scanned two to four times that way).
type nestFunc func(key []byte) (bool, error)

// object scans one JSON object that must make up all of b (surrounding
// white space allowed) and calls fn for each member. notObject reports a
// valid JSON value that is not an object.
func (s *scanner) object(b []byte, fn memberFunc) (notObject bool, err error) {
	return s.objectNest(b, fn, nil)
}

// objectNest is object with nest offered each member first.
func (s *scanner) objectNest(b []byte, fn memberFunc, nest nestFunc) (notObject bool, err error) {
	s.b, s.i = b, 0
	s.ws()
	if s.i >= len(s.b) {
		return false, errSyntax
	}
	if s.b[s.i] != '{' {
		if _, err := s.value(0); err != nil {
			return false, err
		}
		s.ws()
		if s.i != len(s.b) {
			return false, errSyntax
		}
		return true, nil
	}
	if err := s.members(0, fn, nest); err != nil {
		return false, err
	}
	s.ws()
	if s.i != len(s.b) {
		return false, errSyntax
	}
	return false, nil
}

// members scans the object at s.i (s.b[s.i] is '{'), nested depth deep,
// and moves past it. A nil fn only checks the members nest leaves.
func (s *scanner) members(depth int, fn memberFunc, nest nestFunc) error {
	if depth > maxDepth {
		return errSyntax
	}
	s.i++
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
		return nil
	}
	for {
		s.ws()
		if s.i >= len(s.b) || s.b[s.i] != '"' {
			return errSyntax
		}
		key, err := s.str()
		if err != nil {
			return err
		}
		// key may live in s.buf; copy it (into reused scratch) to keep
		// it while the value is unescaped.
		s.key = append(s.key[:0], key...)
		k := s.key
		s.ws()
		if s.i >= len(s.b) || s.b[s.i] != ':' {
			return errSyntax
		}
		s.i++
		s.ws()
		done := false
		if nest != nil {
			if done, err = nest(k); err != nil {
				return err
			}
		}
		switch {
		case done:
		case fn == nil:
			if _, err = s.value(depth + 1); err != nil {
				return err
			}
		default:
			var kind jsonKind
			var val []byte
			if s.i < len(s.b) && s.b[s.i] == '"' {
				kind = kindString
				if val, err = s.str(); err != nil {
					return err
				}
			} else {
				start := s.i
				if kind, err = s.value(depth + 1); err != nil {
					return err
				}
				val = s.b[start:s.i]
			}
			fn(k, kind, val)
		}
		s.ws()
		if s.i >= len(s.b) {
			return errSyntax
		}
		if s.b[s.i] == ',' {
			s.i++
			continue
		}
		if s.b[s.i] == '}' {
			s.i++
			return nil
		}
		return errSyntax
	}
}

// value skips one value, checking its syntax, and returns its kind.
func (s *scanner) value(depth int) (jsonKind, error) {
	if depth > maxDepth {
		return 0, errSyntax
	}
	if s.i >= len(s.b) {
		return 0, errSyntax
	}
	switch c := s.b[s.i]; {
	case c == '"':
		return kindString, s.skipStr()
	case c == '{':
		s.i++
		s.ws()
		if s.i < len(s.b) && s.b[s.i] == '}' {
			s.i++
			return kindObject, nil
		}
		for {
			s.ws()
			if s.i >= len(s.b) || s.b[s.i] != '"' {
				return 0, errSyntax
			}
			if err := s.skipStr(); err != nil {
				return 0, err
			}
			s.ws()
			if s.i >= len(s.b) || s.b[s.i] != ':' {
				return 0, errSyntax
			}
			s.i++
			s.ws()
			if _, err := s.value(depth + 1); err != nil {
				return 0, err
			}
			s.ws()
			if s.i >= len(s.b) {
				return 0, errSyntax
			}
			if s.b[s.i] == ',' {
				s.i++
				continue
			}
			if s.b[s.i] == '}' {
				s.i++
				return kindObject, nil
			}
			return 0, errSyntax
		}
	case c == '[':
		return kindArray, s.elements(func() error {
			_, err := s.value(depth + 1)
			return err
		})
	case c == 't':
		return kindTrue, s.lit("true")
	case c == 'f':
		return kindFalse, s.lit("false")
	case c == 'n':
		return kindNull, s.lit("null")
	case c == '-' || c >= '0' && c <= '9':
		return kindNumber, s.num()
	}
	return 0, errSyntax
}

// elements walks the array at s.i (s.b[s.i] is '['): each scans one
// element at s.i and moves past it.
func (s *scanner) elements(each func() error) error {
	s.i++
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == ']' {
		s.i++
		return nil
	}
	for {
		s.ws()
		if err := each(); err != nil {
			return err
		}
		s.ws()
		if s.i >= len(s.b) {
			return errSyntax
		}
		if s.b[s.i] == ',' {
			s.i++
			continue
		}
		if s.b[s.i] == ']' {
			s.i++
			return nil
		}
		return errSyntax
	}
}

func (s *scanner) lit(want string) error {
	if len(s.b)-s.i < len(want) || string(s.b[s.i:s.i+len(want)]) != want {
		return errSyntax
	}
	s.i += len(want)
	return nil
}

func (s *scanner) num() error {
	b, i := s.b, s.i
	if i < len(b) && b[i] == '-' {
		i++
	}
	if i >= len(b) {
		return errSyntax
	}
	if b[i] == '0' {
		i++
	} else if b[i] >= '1' && b[i] <= '9' {
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	} else {
		return errSyntax
	}
	if i < len(b) && b[i] == '.' {
		i++
		d := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == d {
			return errSyntax
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		d := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == d {
			return errSyntax
		}
	}
	s.i = i
	return nil
}

// skipStr checks a string's syntax and moves past it.
func (s *scanner) skipStr() error {
	i := s.i + 1
	for i < len(s.b) {
		c := s.b[i]
		switch {
		case c == '"':
			s.i = i + 1
			return nil
		case c == '\\':
			if i+1 >= len(s.b) {
				return errSyntax
			}
			switch s.b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(s.b) || !isHex4(s.b[i+2:i+6]) {
					return errSyntax
				}
				i += 6
			default:
				return errSyntax
			}
		case c < 0x20:
			return errSyntax
		default:
			i++
		}
	}
	return errSyntax
}

func isHex4(b []byte) bool {
	for _, c := range b[:4] {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// str returns the unescaped content of the string at s.i and moves past it.
// Without escapes and with valid UTF-8 it is a sub-slice of the input.
func (s *scanner) str() ([]byte, error) {
	start := s.i + 1
	if err := s.skipStr(); err != nil {
		return nil, err
	}
	raw := s.b[start : s.i-1]
	plain := true
	for _, c := range raw {
		if c == '\\' || c >= utf8.RuneSelf {
			plain = false
			break
		}
	}
	if plain {
		return raw, nil
	}
	// Same result as encoding/json: escapes decoded, surrogate pairs
	// combined, invalid UTF-8 and lone surrogates become U+FFFD.
	out := s.buf[:0]
	for i := 0; i < len(raw); {
		c := raw[i]
		if c == '\\' {
			switch raw[i+1] {
			case 'u':
				r := hex4(raw[i+2 : i+6])
				i += 6
				if utf16.IsSurrogate(r) {
					if i+6 <= len(raw) && raw[i] == '\\' && raw[i+1] == 'u' {
						if r2 := utf16.DecodeRune(r, hex4(raw[i+2:i+6])); r2 != utf8.RuneError {
							out = utf8.AppendRune(out, r2)
							i += 6
							continue
						}
					}
					r = utf8.RuneError
				}
				out = utf8.AppendRune(out, r)
				continue
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			default: // " \ /
				out = append(out, raw[i+1])
			}
			i += 2
			continue
		}
		if c < utf8.RuneSelf {
			out = append(out, c)
			i++
			continue
		}
		r, size := utf8.DecodeRune(raw[i:])
		if r == utf8.RuneError && size == 1 {
			out = utf8.AppendRune(out, utf8.RuneError)
		} else {
			out = append(out, raw[i:i+size]...)
		}
		i += size
	}
	s.buf = out
	return out, nil
}

func hex4(b []byte) rune {
	v, _ := strconv.ParseUint(string(b[:4]), 16, 32)
	return rune(v)
}

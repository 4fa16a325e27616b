package store

import (
	"fmt"
	"strings"
)

// Version is a ClickHouse server release.
type Version struct{ Major, Minor, Patch int }

func (v Version) String() string { return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch) }

// AtLeast reports whether v is major.minor or newer.
func (v Version) AtLeast(major, minor int) bool {
	return v.Major > major || (v.Major == major && v.Minor >= minor)
}

// Features are the server capabilities the product switches on by version.
// The oldest supported server, 18.16, has none of them.
type Features struct {
	Codecs             bool // column CODEC(...) clauses (19.11)
	TTL                bool // table TTL (19.6)
	LowCardinalityGA   bool // LowCardinality without the experimental setting (19.x)
	TimeZoneFunctions  bool // toStartOfWeek/toStartOfInterval with a time zone argument (20.1)
	WindowFunctions    bool // OVER (...) (21.9)
	AsyncInsert        bool // async_insert (21.11)
	ParameterizedQuery bool // server-side {name:Type} parameters (22.x)
}

// Features lists what the connected server supports.
func (s *Store) Features() Features { return FeaturesOf(s.Version) }

// FeaturesOf lists what a server of version v supports.
func FeaturesOf(v Version) Features {
	return Features{
		Codecs:             v.AtLeast(19, 11),
		TTL:                v.AtLeast(19, 6),
		LowCardinalityGA:   v.AtLeast(19, 0),
		TimeZoneFunctions:  v.AtLeast(20, 1),
		WindowFunctions:    v.AtLeast(21, 9),
		AsyncInsert:        v.AtLeast(21, 11),
		ParameterizedQuery: v.AtLeast(22, 8),
	}
}

func (f Features) String() string {
	var on []string
	add := func(b bool, n string) {
		if b {
			on = append(on, n)
		}
	}
	add(f.Codecs, "codecs")
	add(f.TTL, "ttl")
	add(f.LowCardinalityGA, "low_cardinality")
	add(f.TimeZoneFunctions, "tz_functions")
	add(f.WindowFunctions, "window_functions")
	add(f.AsyncInsert, "async_insert")
	add(f.ParameterizedQuery, "server_parameters")
	if len(on) == 0 {
		return "none (oldest supported server)"
	}
	return strings.Join(on, ",")
}

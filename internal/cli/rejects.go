package cli

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"strconv"
	"strings"
)

// Rejects files must not hold raw user ids either: a rejected line's
// user_id is replaced by its keyed hash (the user_key it would have been
// stored with), or the line's text is left out when the id cannot be
// found in it safely.

// rawOmitted explains a rejects line without its text.
const rawOmitted = "the line's text is left out: it holds a raw user id that could not be replaced (see the line in the loaded file)"

// redactRaw returns what a rejects line shows of raw: a JSON object with
// user_id replaced by user_key (the keyed hash of userID), or the text of
// another line with the user id's cells replaced by the hash; omitted
// says why nothing is shown. Other values equal to the user id show as
// <user_id>.
func redactRaw(raw []byte, userID string, userKey func(string) uint64) (obj json.RawMessage, text, omitted string, key *uint64) {
	if userID != "" {
		k := userKey(userID)
		key = &k
	}
	if len(raw) == 0 {
		return nil, "", "", key
	}
	if json.Valid(raw) {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(raw, &m); err != nil {
			// Valid JSON but not an object.
			if userID != "" && bytes.Contains(raw, []byte(userID)) {
				return nil, "", rawOmitted, key
			}
			return raw, "", "", key
		}
		if v, ok := m["user_id"]; ok {
			var id string
			if json.Unmarshal(v, &id) == nil && id != "" {
				k := userKey(id)
				key = &k
				userID = id
			}
			delete(m, "user_id")
			if key != nil {
				m["user_key"] = json.RawMessage(strconv.FormatUint(*key, 10))
			}
		}
		if userID != "" {
			for name, v := range m {
				var s string
				if json.Unmarshal(v, &s) == nil && strings.Contains(s, userID) && (s == userID || len(userID) >= 6) {
					m[name] = json.RawMessage(`"<user_id>"`)
				}
			}
		}
		out, err := json.Marshal(m)
		if err != nil {
			return nil, "", rawOmitted, key
		}
		return out, "", "", key
	}
	s := string(raw)
	if userID == "" {
		// A broken JSON line may name a user id the decoder never read.
		if strings.Contains(s, "user_id") && strings.Contains(s, "{") {
			return nil, "", rawOmitted, nil
		}
		return nil, s, "", nil
	}
	// A CSV line: cells equal to the id become its hash.
	r := csv.NewReader(strings.NewReader(s))
	r.FieldsPerRecord = -1
	cells, err := r.Read()
	if err == nil {
		for i, c := range cells {
			if c == userID {
				cells[i] = strconv.FormatUint(*key, 10)
			}
		}
		var b bytes.Buffer
		w := csv.NewWriter(&b)
		_ = w.Write(cells)
		w.Flush()
		s = strings.TrimRight(b.String(), "\n")
	}
	if strings.Contains(s, userID) && (len(userID) >= 6 || err != nil || containsCell(cells, userID)) {
		return nil, "", rawOmitted, key
	}
	return nil, s, "", key
}

func containsCell(cells []string, v string) bool {
	for _, c := range cells {
		if strings.Contains(c, v) {
			return true
		}
	}
	return false
}

package schema_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/adoptscope/adoptscope/schema"
)

var (
	createRe = regexp.MustCompile(`(?is)^\s*(CREATE\s+(?:TABLE|MATERIALIZED\s+VIEW|VIEW)|ALTER\s+TABLE|DROP\s+TABLE|DROP\s+VIEW)\s+(?:IF\s+(?:NOT\s+)?EXISTS\s+)?([A-Za-z_][\w.]*)`)
	refRe    = regexp.MustCompile(`(?i)\b(FROM|JOIN|TO)\s+([A-Za-z_][\w.]*)`)
	engineRe = regexp.MustCompile(`(?i)ENGINE\s*=\s*(\w+)`)
)

// TestClusterRendering checks every migration as rendered for a cluster
// without a server: 18.16 runs ON CLUSTER DDL on the other nodes in their
// default database, so every statement must carry ON CLUSTER and name every
// table with its database; and every MergeTree-family table must be
// replicated (otherwise its rows live on one node only).
func TestClusterRendering(t *testing.T) {
	ms, err := schema.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		stmts, err := m.Statements(schema.Target{Database: "db", Cluster: "c1"})
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range stmts {
			if strings.HasPrefix(strings.ToUpper(strings.TrimSpace(q)), "SELECT") {
				continue
			}
			cm := createRe.FindStringSubmatch(q)
			if cm == nil {
				t.Errorf("migration %04d_%s: statement is not CREATE/ALTER/DROP TABLE or VIEW; check it runs on a cluster: %.120s", m.Version, m.Name, q)
				continue
			}
			if !strings.Contains(q, "ON CLUSTER c1") {
				t.Errorf("migration %04d_%s: no ON CLUSTER on a cluster: %.120s", m.Version, m.Name, q)
			}
			if !strings.HasPrefix(cm[2], "db.") {
				t.Errorf("migration %04d_%s: %s is not qualified with the database on a cluster (use {{local}} or {{name}}): %.120s", m.Version, m.Name, cm[2], q)
			}
			for _, r := range refRe.FindAllStringSubmatch(q, -1) {
				if !strings.Contains(r[2], ".") {
					t.Errorf("migration %04d_%s: %s %s is not qualified with the database on a cluster (use {{local}} or {{name}}): %.160s", m.Version, m.Name, r[1], r[2], q)
				}
			}
			if e := engineRe.FindStringSubmatch(q); e != nil && strings.HasSuffix(e[1], "MergeTree") && !strings.HasPrefix(e[1], "Replicated") {
				t.Errorf("migration %04d_%s: engine %s is not replicated on a cluster (use {{engine}}): %.120s", m.Version, m.Name, e[1], q)
			}
		}
	}
}

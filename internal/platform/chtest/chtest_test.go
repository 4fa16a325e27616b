package chtest

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
)

// This binary passes no schema: NewStore and BuildRollups must say so.
func TestMain(m *testing.M) { os.Exit(Main(m, Schema{})) }

// fatalT records the failure that Migrate or BuildRollups reports.
type fatalT struct {
	testing.TB
	msg string
}

func (f *fatalT) Helper()                   {}
func (f *fatalT) Fatal(args ...any)         { f.msg = fmt.Sprint(args...); runtime.Goexit() }
func (f *fatalT) Fatalf(s string, a ...any) { f.msg = fmt.Sprintf(s, a...); runtime.Goexit() }

func TestNoSchemaFailsLoudly(t *testing.T) {
	for name, call := range map[string]func(testing.TB){
		"Migrate":      func(t testing.TB) { Migrate(t, nil) },
		"BuildRollups": func(t testing.TB) { BuildRollups(t, nil) },
	} {
		f := &fatalT{TB: t}
		done := make(chan struct{})
		go func() { defer close(done); call(f) }()
		<-done
		if !strings.Contains(f.msg, "TestMain passed no "+name) || !strings.Contains(f.msg, "chtest.Main(m, chtest.Schema{") {
			t.Errorf("%s without a schema: %q, want it to name the missing function and the TestMain to write", name, f.msg)
		}
	}
}

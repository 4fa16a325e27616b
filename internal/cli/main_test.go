package cli

import (
	"os"
	"testing"

	"github.com/adoptscope/adoptscope/internal/platform/chtest"
	"github.com/adoptscope/adoptscope/rollup"
	"github.com/adoptscope/adoptscope/schema"
)

func TestMain(m *testing.M) {
	os.Exit(chtest.Main(m, chtest.Schema{Migrate: schema.Migrate, BuildRollups: rollup.BuildAll}))
}

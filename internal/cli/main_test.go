package cli

import (
	"os"
	"testing"

	"github.com/adoptscope/adoptscope/internal/platform/chtest"
)

func TestMain(m *testing.M) { os.Exit(chtest.Main(m)) }

package cli

import (
	"os"
	"testing"

	"github.com/adoptscope/adoptscope/internal/chtest"
)

func TestMain(m *testing.M) { os.Exit(chtest.Main(m)) }

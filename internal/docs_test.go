package internal_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"
)

// The documentation a newcomer reads: the README, ARCHITECTURE.md, docs/*.md
// and every package's README. Its relative links must resolve: the file
// exists and, for a link with #anchor into a markdown file, the heading
// exists (GitHub's anchor rules).

// docFiles lists the markdown files whose links are checked, relative to
// the repository root.
func docFiles(t *testing.T, root string) []string {
	t.Helper()
	files := []string{"README.md", "ARCHITECTURE.md"}
	docs, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range docs {
		files = append(files, filepath.ToSlash(strings.TrimPrefix(d, root+string(filepath.Separator))))
	}
	err = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			switch d.Name() {
			case ".git", "node_modules", "testdata", "bin", "build", "data", "docs":
				return filepath.SkipDir
			}
			if strings.HasPrefix(d.Name(), ".") && rel != "." {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Name() == "README.md" && rel != "README.md" {
			files = append(files, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

var (
	fenceRe     = regexp.MustCompile("^\\s*(```|~~~)")
	codeSpanRe  = regexp.MustCompile("`+[^`]*`+")
	inlineRe    = regexp.MustCompile(`!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)`)
	refDefRe    = regexp.MustCompile(`^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s.*)?$`)
	headingRe   = regexp.MustCompile(`^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$`)
	mdLinkRe    = regexp.MustCompile(`!?\[([^\]]*)\]\([^)]*\)`)
	htmlTagRe   = regexp.MustCompile(`<[^>]+>`)
	schemeRe    = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.-]*:`)
	anchorCache = map[string]map[string]bool{}
)

// links returns the link targets of a markdown text with their line
// numbers, outside fenced code blocks and code spans.
func links(text string) (targets []string, lines []int) {
	inFence := false
	for i, line := range strings.Split(text, "\n") {
		if fenceRe.MatchString(line) {
			inFence = !inFence
			continue
		}
		if inFence {
			continue
		}
		if m := refDefRe.FindStringSubmatch(line); m != nil {
			targets, lines = append(targets, m[1]), append(lines, i+1)
			continue
		}
		line = codeSpanRe.ReplaceAllString(line, "")
		for _, m := range inlineRe.FindAllStringSubmatch(line, -1) {
			targets, lines = append(targets, m[1]), append(lines, i+1)
		}
	}
	return targets, lines
}

// anchors returns the anchors GitHub generates for the headings of a
// markdown text: the heading's text as rendered (code spans without their
// backticks, links as their text, no HTML tags), lower-cased, every
// character other than a letter, a digit, '-', '_' or a space dropped,
// spaces turned into '-'; a repeated anchor gets "-1", "-2", … appended.
func anchors(text string) map[string]bool {
	out := map[string]bool{}
	seen := map[string]int{}
	inFence := false
	for _, line := range strings.Split(text, "\n") {
		if fenceRe.MatchString(line) {
			inFence = !inFence
			continue
		}
		if inFence {
			continue
		}
		m := headingRe.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		a := slug(m[2])
		if n, ok := seen[a]; ok {
			seen[a] = n + 1
			a = fmt.Sprintf("%s-%d", a, n+1)
		} else {
			seen[a] = 0
		}
		out[a] = true
	}
	return out
}

func slug(heading string) string {
	s := mdLinkRe.ReplaceAllString(heading, "$1")
	s = htmlTagRe.ReplaceAllString(s, "")
	s = strings.ReplaceAll(s, "`", "")
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteRune('-')
		}
	}
	return b.String()
}

// checkLinks returns one message per relative link of file (a path under
// root) that does not resolve.
func checkLinks(root, file string) ([]string, error) {
	data, err := os.ReadFile(filepath.Join(root, file))
	if err != nil {
		return nil, err
	}
	var bad []string
	targets, lines := links(string(data))
	for i, target := range targets {
		if schemeRe.MatchString(target) || strings.HasPrefix(target, "//") {
			continue // http:, https:, mailto:: not checked here
		}
		path, anchor, _ := strings.Cut(target, "#")
		if i := strings.IndexByte(path, '?'); i >= 0 {
			path = path[:i]
		}
		resolved := file
		if path != "" {
			if strings.HasPrefix(path, "/") {
				resolved = strings.TrimPrefix(path, "/")
			} else {
				resolved = filepath.ToSlash(filepath.Join(filepath.Dir(file), path))
			}
			if resolved == ".." || strings.HasPrefix(resolved, "../") {
				bad = append(bad, fmt.Sprintf("%s:%d: %s leaves the repository", file, lines[i], target))
				continue
			}
			if _, err := os.Stat(filepath.Join(root, resolved)); err != nil {
				bad = append(bad, fmt.Sprintf("%s:%d: %s: no such file %s", file, lines[i], target, resolved))
				continue
			}
		}
		if anchor == "" || !strings.HasSuffix(resolved, ".md") {
			continue
		}
		key := filepath.Join(root, resolved)
		as, ok := anchorCache[key]
		if !ok {
			b, err := os.ReadFile(key)
			if err != nil {
				return nil, err
			}
			as = anchors(string(b))
			anchorCache[key] = as
		}
		if !as[strings.ToLower(anchor)] {
			bad = append(bad, fmt.Sprintf("%s:%d: %s: %s has no heading with anchor #%s", file, lines[i], target, resolved, anchor))
		}
	}
	return bad, nil
}

func TestDocsLinksResolve(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	files := docFiles(t, root)
	if len(files) < 10 {
		t.Fatalf("only %d documentation files found: %v", len(files), files)
	}
	n := 0
	for _, f := range files {
		bad, err := checkLinks(root, f)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range bad {
			t.Error(b)
		}
		data, _ := os.ReadFile(filepath.Join(root, f))
		ts, _ := links(string(data))
		n += len(ts)
	}
	if n < 50 {
		t.Fatalf("only %d links read in %d files: the parser missed them", n, len(files))
	}
}

// TestDocsLinkCheckerFindsBreaks feeds the checker a file with broken links
// of every kind, and good ones, so that it cannot pass by reading nothing.
func TestDocsLinkCheckerFindsBreaks(t *testing.T) {
	root := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(root, "docs"), 0o755))
	must(os.WriteFile(filepath.Join(root, "docs", "b.md"), []byte("# B\n\n## The HTTP protocol: `ADOPTSCOPE_CLICKHOUSE_PROTOCOL=http`\n\n## Ingest: `adoptscope bench ingest --api`\n\n## Twice\n\n## Twice\n"), 0o644))
	must(os.WriteFile(filepath.Join(root, "a.md"), []byte(strings.Join([]string{
		"# A",
		"[ok](docs/b.md) [ok](docs/b.md#the-http-protocol-adoptscope_clickhouse_protocolhttp)",
		"[ok](docs/b.md#ingest-adoptscope-bench-ingest---api) [ok](docs/b.md#twice-1) [ok](#a) [ok](https://example.com/x)",
		"[missing file](docs/c.md)",
		"[missing anchor](docs/b.md#nope)",
		"[missing self anchor](#nope)",
		"![missing image](img/x.png)",
		"[outside](../x.md)",
		"`[in code](nothere.md)`",
		"```",
		"[in a fence](nothere.md)",
		"```",
	}, "\n")), 0o644))
	bad, err := checkLinks(root, "a.md")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"docs/c.md", "docs/b.md#nope", "#nope", "img/x.png", "../x.md"}
	if len(bad) != len(want) {
		t.Fatalf("got %d broken links, want %d (%v):\n%s", len(bad), len(want), want, strings.Join(bad, "\n"))
	}
	for i, w := range want {
		if !strings.Contains(bad[i], " "+w+" ") && !strings.Contains(bad[i], " "+w+":") {
			t.Errorf("broken link %d: %q, want it to name %s", i, bad[i], w)
		}
	}
}

// TestArchitectureNamesEveryPackage: every package `go list ./...` prints
// has its row in ARCHITECTURE.md, written `path`.
func TestArchitectureNamesEveryPackage(t *testing.T) {
	arch, err := os.ReadFile(filepath.Join("..", "ARCHITECTURE.md"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "list", "./...")
	cmd.Dir = ".."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	pkgs := strings.Fields(string(out))
	if len(pkgs) < 20 {
		t.Fatalf("go list printed %d packages: %v", len(pkgs), pkgs)
	}
	for _, p := range pkgs {
		rel := strings.TrimPrefix(p, module)
		if !strings.Contains(string(arch), "| `"+rel+"` |") {
			t.Errorf("ARCHITECTURE.md has no row for package %s: add `| `%s` | what it holds |` to its package table", rel, rel)
		}
	}
}

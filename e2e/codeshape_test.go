package e2e

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// maxFuncLines is the longest a non-test function may be (the project's
// rule, issue 7), from its func keyword to its closing brace.
const maxFuncLines = 80

// TestNoLongFunctions: no function or function literal in the module's
// non-test Go files is longer than maxFuncLines lines.
func TestNoLongFunctions(t *testing.T) {
	root := repoRoot(t)
	fset := token.NewFileSet()
	files := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "node_modules" || name == "vendor") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		files++
		for _, long := range longFunctions(fset, f) {
			rel, _ := filepath.Rel(root, path)
			t.Errorf("%s:%s", rel, long)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 100 {
		t.Fatalf("only %d non-test Go files found under %s", files, root)
	}
}

// longFunctions returns "LINE: NAME is N lines" for every function of f
// longer than maxFuncLines.
func longFunctions(fset *token.FileSet, f *ast.File) []string {
	var out []string
	ast.Inspect(f, func(n ast.Node) bool {
		name := "a function literal"
		switch fn := n.(type) {
		case *ast.FuncDecl:
			if fn.Body == nil {
				return true
			}
			name = fn.Name.Name
		case *ast.FuncLit:
		default:
			return true
		}
		start, end := fset.Position(n.Pos()).Line, fset.Position(n.End()).Line
		if lines := end - start + 1; lines > maxFuncLines {
			out = append(out, fmt.Sprintf("%d: %s is %d lines, more than %d", start, name, lines, maxFuncLines))
		}
		return true
	})
	return out
}

// TestLongFunctionsCounts: the counter finds a declaration and a literal
// one line over the limit, and passes one at the limit.
func TestLongFunctionsCounts(t *testing.T) {
	body := func(lines int) string { return strings.Repeat("\t_ = 0\n", lines-2) }
	src := "package x\n\nfunc atLimit() {\n" + body(maxFuncLines) + "}\n\nfunc over() {\n" + body(maxFuncLines+1) + "}\n\n" +
		"var lit = func() {\n" + body(maxFuncLines+1) + "}\n"
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "x.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	got := longFunctions(fset, f)
	if len(got) != 2 || !strings.Contains(got[0], "over is 81 lines") || !strings.Contains(got[1], "a function literal is 81 lines") {
		t.Errorf("longFunctions = %q, want over and the literal at 81 lines", got)
	}
}

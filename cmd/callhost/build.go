package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

var buildCommand = &command{
	name:    "build",
	summary: "compile Go guest packages to .wasm modules",
	usage: `
Usage: callhost build [FLAGS] [PACKAGE...]

Build compiles each Go main package (default ".") into a guest module with
GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared, and prints the path of
each module. A module is named after its package directory, with the .wasm
extension. -o sets the output file for one package, or the output directory
when it names a directory, ends with a slash, or more than one package is
given. Put the modules in the modules directory of "callhost serve" to load
each as a class of the same name.`,
	setup: setupBuild,
}

func setupBuild(fs *flag.FlagSet) runFunc {
	var out string
	fs.StringVar(&out, "o", "", "output file for one package, or output directory "+
		"(default: DIR.wasm in the current directory, where DIR is the package directory's name)")
	return func(env *cmdEnv, args []string) int { return build(env, out, args) }
}

func build(env *cmdEnv, out string, pkgs []string) int {
	if len(pkgs) == 0 {
		pkgs = []string{"."}
	}
	outDir := ""
	if st, err := os.Stat(out); out != "" && (len(pkgs) > 1 || strings.HasSuffix(out, "/") ||
		err == nil && st.IsDir()) {
		outDir = out
		if err := os.MkdirAll(outDir, 0o755); err != nil {
			fmt.Fprintf(env.stderr, "error: %v\n", err)
			return exitError
		}
	}
	for _, pkg := range pkgs {
		if strings.Contains(pkg, "...") {
			return env.usageError("build takes package paths, not the pattern %q", pkg)
		}
		if code := buildOne(env, pkg, out, outDir); code != exitOK {
			return code
		}
	}
	return exitOK
}

func buildOne(env *cmdEnv, pkg, out, outDir string) int {
	dir, err := mainPackageDir(pkg)
	if err != nil {
		fmt.Fprintf(env.stderr, "error: %v\n", err)
		return exitError
	}
	switch {
	case outDir != "":
		out = filepath.Join(outDir, moduleName(dir))
	case out == "":
		out = moduleName(dir)
	}
	env.log.Debug("building guest module", "package", pkg, "dir", dir, "output", out)
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", out, pkg)
	cmd.Env = guestEnv()
	cmd.Stdout = env.stderr
	cmd.Stderr = env.stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintf(env.stderr, "error: go build %s: %v\n", pkg, err)
		return exitError
	}
	fmt.Fprintln(env.stdout, out)
	return exitOK
}

// guestEnv returns the environment of go commands that build guests.
func guestEnv() []string {
	return append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
}

// mainPackageDir returns the directory of pkg, checking that it is a main
// package, as a guest module must be.
func mainPackageDir(pkg string) (string, error) {
	cmd := exec.Command("go", "list", "-f", "{{.Name}}\t{{.Dir}}", pkg)
	cmd.Env = guestEnv()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go list %s: %v\n%s", pkg, err, strings.TrimSpace(stderr.String()))
	}
	name, dir, ok := strings.Cut(strings.TrimSpace(string(b)), "\t")
	if !ok {
		return "", fmt.Errorf("go list %s printed %q; want one package", pkg, b)
	}
	if name != "main" {
		return "", fmt.Errorf("package %s is package %s; a guest module is built from "+
			"package main", pkg, name)
	}
	return dir, nil
}

// moduleName returns the default module path for a package in dir.
func moduleName(dir string) string {
	return filepath.Base(dir) + ".wasm"
}

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
	summary: "compile a Go guest package to a .wasm module",
	usage: `
Usage: callhost build [FLAGS] [PACKAGE]

Build compiles the Go main package PACKAGE (default ".") into a guest
module with GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared, and prints
the path of the module. The module is named after the package directory,
with the .wasm extension, unless -o sets the path. Copy it to the modules
directory of "callhost serve" to load it as a class of the same name.`,
	setup: setupBuild,
}

func setupBuild(fs *flag.FlagSet) runFunc {
	var out string
	fs.StringVar(&out, "o", "", "path of the module to write (default: DIR.wasm in the "+
		"current directory, where DIR is the package directory's name)")
	return func(env *cmdEnv, args []string) int { return build(env, out, args) }
}

func build(env *cmdEnv, out string, args []string) int {
	if len(args) > 1 {
		return env.usageError("build takes one package, got %d arguments", len(args))
	}
	pkg := "."
	if len(args) == 1 {
		pkg = args[0]
	}
	if strings.Contains(pkg, "...") {
		return env.usageError("build takes one package, not the pattern %q", pkg)
	}
	dir, err := mainPackageDir(pkg)
	if err != nil {
		fmt.Fprintf(env.stderr, "error: %v\n", err)
		return exitError
	}
	if out == "" {
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

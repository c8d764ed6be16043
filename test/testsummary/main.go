// Command testsummary reads `go test -json` on stdin and prints what a
// person needs from a run instead of the whole stream: the output of each
// failing test, one line per package with its passed/failed/skipped
// counts, every test skipped because a real part was missing, and a
// closing line "N passed, N failed, N skipped". The full stream goes to
// the file named by -log. It exits 1 when a test or package failed or a
// test skipped with testenv.PartMarker, so scripts/test.sh cannot go green
// on a run that never used a real part.
//
//	go test -json ./... | go run ./test/testsummary -log run/test.json
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/drydock/drydock/internal/testenv"
)

func main() {
	logPath := flag.String("log", "", "write the full go test -json stream to this file")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: go test -json ./... | testsummary [-log FILE]")
		flag.PrintDefaults()
	}
	flag.Parse()
	in := io.Reader(os.Stdin)
	if *logPath != "" {
		f, err := os.Create(*logPath)
		if err != nil {
			fmt.Fprintln(os.Stderr, "testsummary:", err)
			os.Exit(2)
		}
		defer f.Close()
		in = io.TeeReader(os.Stdin, f)
	}
	s, err := summarize(in, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testsummary: read:", err)
		os.Exit(2)
	}
	s.print(os.Stdout)
	if !s.ok() {
		os.Exit(1)
	}
}

// event is a TestEvent (go doc cmd/test2json) or a BuildEvent (go help
// buildjson); Action tells them apart.
type event struct {
	Action      string
	Package     string
	Test        string
	Elapsed     float64
	Output      string
	FailedBuild string
	ImportPath  string // BuildEvent
}

type pkgResult struct {
	name                    string
	passed, failed, skipped int
	result                  string // pass, fail, skip ("no test files"), or "" while running
	elapsed                 float64
	output                  strings.Builder // package-level output (panics, timeouts, build errors)
	tests                   map[string]*testResult
}

type testResult struct {
	output strings.Builder
	done   bool
}

type partSkip struct{ pkg, test, msg string }

type summary struct {
	pkgs       map[string]*pkgResult
	build      map[string]*strings.Builder // build output by import path
	partSkips  []partSkip
	failedPkgs int
}

func (s *summary) pkg(name string) *pkgResult {
	p := s.pkgs[name]
	if p == nil {
		p = &pkgResult{name: name, tests: map[string]*testResult{}}
		s.pkgs[name] = p
	}
	return p
}

// summarize reads the stream. Lines that are not JSON (go's own errors
// before a test binary runs) are copied to out at once; the output of a
// failing test or package is printed to out as soon as it is known.
func summarize(in io.Reader, out io.Writer) (*summary, error) {
	s := &summary{pkgs: map[string]*pkgResult{}, build: map[string]*strings.Builder{}}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &e) != nil {
			fmt.Fprintf(out, "%s\n", line)
			continue
		}
		switch e.Action {
		case "build-output":
			b := s.build[e.ImportPath]
			if b == nil {
				b = &strings.Builder{}
				s.build[e.ImportPath] = b
			}
			b.WriteString(e.Output)
			continue
		case "build-fail":
			if b := s.build[e.ImportPath]; b != nil {
				fmt.Fprintf(out, "=== build failed: %s\n%s", e.ImportPath, b.String())
			}
			continue
		}
		if e.Package == "" {
			continue
		}
		p := s.pkg(e.Package)
		if e.Test == "" {
			switch e.Action {
			case "output":
				p.output.WriteString(e.Output)
			case "pass", "fail", "skip":
				p.result, p.elapsed = e.Action, e.Elapsed
				if e.Action == "fail" {
					s.failedPkgs++
					s.reportPackageFailure(out, p)
				}
			}
			continue
		}
		t := p.tests[e.Test]
		if t == nil {
			t = &testResult{}
			p.tests[e.Test] = t
		}
		switch e.Action {
		case "output":
			t.output.WriteString(e.Output)
		case "pass":
			p.passed++
			t.done = true
		case "fail":
			p.failed++
			t.done = true
			fmt.Fprintf(out, "=== FAIL %s %s\n%s", e.Package, e.Test, t.output.String())
		case "skip":
			p.skipped++
			t.done = true
			if msg, ok := partMessage(t.output.String()); ok {
				s.partSkips = append(s.partSkips, partSkip{e.Package, e.Test, msg})
			}
		}
	}
	return s, sc.Err()
}

// reportPackageFailure prints why a package failed beyond its failing
// tests: its own output (a panic, a timeout, a TestMain error) and the
// output of tests that never finished, which count as failed.
func (s *summary) reportPackageFailure(out io.Writer, p *pkgResult) {
	var unfinished []string
	for name, t := range p.tests {
		if !t.done {
			unfinished = append(unfinished, name)
		}
	}
	sort.Strings(unfinished)
	for _, name := range unfinished {
		p.failed++
		p.tests[name].done = true
		fmt.Fprintf(out, "=== FAIL %s %s (did not finish)\n%s", p.name, name, p.tests[name].output.String())
	}
	fmt.Fprintf(out, "=== FAIL %s\n%s", p.name, p.output.String())
}

// partMessage finds the missing-part message in a skipped test's output.
func partMessage(output string) (string, bool) {
	i := strings.Index(output, testenv.PartMarker)
	if i < 0 {
		return "", false
	}
	msg := output[i:]
	if j := strings.IndexByte(msg, '\n'); j >= 0 {
		msg = msg[:j]
	}
	return msg, true
}

func (s *summary) ok() bool {
	if s.failedPkgs > 0 || len(s.partSkips) > 0 {
		return false
	}
	for _, p := range s.pkgs {
		if p.failed > 0 || p.result == "" {
			return false // a failed test, or a package the stream cut off
		}
	}
	return true
}

func (s *summary) print(w io.Writer) {
	names := make([]string, 0, len(s.pkgs))
	noTests := 0
	for n, p := range s.pkgs {
		if p.result == "skip" && len(p.tests) == 0 {
			noTests++
			continue
		}
		names = append(names, n)
	}
	sort.Strings(names)
	var passed, failed, skipped int
	fmt.Fprintln(w, "--- summary per package")
	for _, n := range names {
		p := s.pkgs[n]
		status := "ok  "
		switch {
		case p.result == "fail" || p.failed > 0:
			status = "FAIL"
		case p.result == "":
			status = "????" // the stream ended before the package did
		}
		fmt.Fprintf(w, "%s %-60s %4d passed %4d failed %4d skipped %7.1fs\n", status, n, p.passed, p.failed, p.skipped, p.elapsed)
		passed += p.passed
		failed += p.failed
		skipped += p.skipped
	}
	if noTests > 0 {
		fmt.Fprintf(w, "(%d packages without tests)\n", noTests)
	}
	if len(s.partSkips) > 0 {
		fmt.Fprintf(w, "--- %d tests skipped for a missing real part (a failure here):\n", len(s.partSkips))
		for _, ps := range s.partSkips {
			fmt.Fprintf(w, "SKIP %s %s: %s\n", ps.pkg, ps.test, ps.msg)
		}
	}
	fmt.Fprintf(w, "%d passed, %d failed, %d skipped\n", passed, failed, skipped)
}

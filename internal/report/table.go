package report

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/drydock/drydock/internal/inventory"
)

// ANSI codes for the table. Every row starts with a code of the same length
// (five bytes): tabwriter counts escape bytes as width, so equal-length
// prefixes in the first column keep the columns aligned, and the reset goes
// after the last cell, which tabwriter does not pad.
const (
	ansiHeader  = "\x1b[01m" // bold
	ansiApp     = "\x1b[36m" // cyan: added on top of the base, the team's own
	ansiDefault = "\x1b[39m" // default foreground
	ansiReset   = "\x1b[0m"
	ansiProblem = "\x1b[31m" // red
)

type tableFormatter struct{ opts Options }

func (f tableFormatter) Format(w io.Writer, inv *inventory.Inventory) error {
	bw := bufio.NewWriter(w)
	f.header(bw, inv)

	pkgs := sortedPackages(inv)
	tw := tabwriter.NewWriter(bw, 0, 8, 2, ' ', 0)
	f.row(tw, ansiHeader, "NAME", "VERSION", "TYPE", "SOURCE", "ORIGIN", "LAYER")
	var base, app int
	for _, p := range pkgs {
		src := ""
		if p.SourceName != "" && p.SourceName != p.Name {
			src = p.SourceName
		}
		color := ansiDefault
		switch p.Origin {
		case inventory.OriginBase:
			base++
		case inventory.OriginApp:
			app++
			color = ansiApp
		}
		f.row(tw, color, displayName(p), p.Version, p.Type, src, string(p.Origin), shortDigest(p.Layer))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("report: write table: %w", err)
	}

	fmt.Fprintf(bw, "\n%d %s", len(pkgs), plural(len(pkgs), "package", "packages"))
	if base+app > 0 {
		fmt.Fprintf(bw, " (%d base, %d app)", base, app)
	}
	if n := len(inv.Problems); n > 0 {
		fmt.Fprintf(bw, ", %d %s", n, plural(n, "problem", "problems"))
	}
	bw.WriteString("\n")

	// Problems come last and are never dropped: an inventory with a problem is
	// incomplete, and a reader of the table must be told what was missed.
	if len(inv.Problems) > 0 {
		bw.WriteString("\n" + f.paint(ansiProblem, "Problems:") + "\n")
		for _, p := range inv.Problems {
			bw.WriteString("  " + terminalSafe(problemText(p)) + "\n")
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("report: write table: %w", err)
	}
	return nil
}

func (f tableFormatter) header(w io.Writer, inv *inventory.Inventory) {
	src := inv.Source
	var lines [][2]string
	add := func(k, v string) {
		if v != "" {
			lines = append(lines, [2]string{k, v})
		}
	}
	add("Image:", src.Ref)
	add("Digest:", src.Digest)
	add("Platform:", src.Platform)
	add("OS:", osName(inv.OS))
	if src.BaseName != "" || src.BaseDigest != "" {
		b := src.BaseName
		if src.BaseDigest != "" {
			b = strings.TrimPrefix(b+"@"+src.BaseDigest, "@")
		}
		if src.BaseMethod != "" {
			b += " (" + src.BaseMethod + ")"
		}
		add("Base:", b)
	}
	if len(lines) == 0 {
		return
	}
	for _, l := range lines {
		fmt.Fprintf(w, "%-10s%s\n", l[0], terminalSafe(l[1]))
	}
	fmt.Fprintln(w)
}

func (f tableFormatter) row(w io.Writer, color string, cells ...string) {
	safe := make([]string, len(cells))
	for i, c := range cells {
		safe[i] = terminalSafe(c)
	}
	line := strings.Join(safe, "\t")
	if f.opts.Color {
		line = color + line + ansiReset
	}
	io.WriteString(w, line+"\n")
}

func (f tableFormatter) paint(color, s string) string {
	if !f.opts.Color {
		return s
	}
	return color + s + ansiReset
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

package lineage

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"strings"
)

// Dockerfile is what ParseDockerfile learns about base images.
type Dockerfile struct {
	// Stages are the FROM lines in order, with variables substituted.
	Stages []Stage
	// Base is the final stage's base image, following FROM <stage-name>
	// back to a real image; empty when the final stage builds FROM scratch.
	Base string
	// Scratch is true when the final stage (after following stage names)
	// starts from scratch.
	Scratch bool
}

// Stage is one FROM line.
type Stage struct {
	Name string // the AS name, lowercased; empty when unnamed
	From string // the image or stage name after substitution
	Line int    // 1-based line of the FROM instruction
}

// ErrNoFrom means the Dockerfile has no FROM instruction.
var ErrNoFrom = errors.New("dockerfile has no FROM instruction")

const maxDockerfile = 4 << 20

// ParseDockerfile reads the FROM lines of a Dockerfile: ARG defaults declared
// before the first FROM are substituted (args overrides them, like
// --build-arg), --platform and other flags are skipped, "FROM <stage>" is
// resolved to that stage's base, and "scratch" means no base. Heredoc bodies
// and comments are ignored.
func ParseDockerfile(data []byte, args map[string]string) (*Dockerfile, error) {
	if len(data) > maxDockerfile {
		return nil, fmt.Errorf("dockerfile is larger than %d bytes", maxDockerfile)
	}
	instrs, err := instructions(data)
	if err != nil {
		return nil, err
	}
	vars := map[string]string{}
	df := &Dockerfile{}
	seenFrom := false
	for _, in := range instrs {
		switch in.cmd {
		case "ARG":
			if seenFrom {
				continue // ARGs inside a stage do not affect FROM lines
			}
			for _, a := range splitWords(in.rest) {
				k, v, hasDefault := strings.Cut(a, "=")
				if k == "" {
					continue
				}
				if override, ok := args[k]; ok {
					vars[k] = override
				} else if hasDefault {
					vars[k] = substitute(unquote(v), vars)
				} else if _, ok := vars[k]; !ok {
					vars[k] = ""
				}
			}
		case "FROM":
			seenFrom = true
			st, err := parseFrom(in, vars)
			if err != nil {
				return nil, err
			}
			df.Stages = append(df.Stages, st)
		}
	}
	if len(df.Stages) == 0 {
		return nil, ErrNoFrom
	}
	// Follow stage names back from the final stage. A FROM can only name an
	// earlier stage, so walking backwards terminates.
	i := len(df.Stages) - 1
	from := df.Stages[i].From
	for {
		j := -1
		for k := i - 1; k >= 0; k-- {
			if df.Stages[k].Name != "" && strings.EqualFold(df.Stages[k].Name, from) {
				j = k
				break
			}
		}
		if j < 0 {
			break
		}
		i, from = j, df.Stages[j].From
	}
	if strings.EqualFold(from, "scratch") {
		df.Scratch = true
		return df, nil
	}
	df.Base = from
	return df, nil
}

func parseFrom(in instruction, vars map[string]string) (Stage, error) {
	words := splitWords(in.rest)
	var pos []string
	for k := 0; k < len(words); k++ {
		w := words[k]
		if strings.HasPrefix(w, "--") {
			if !strings.Contains(w, "=") && k+1 < len(words) {
				k++ // "--platform value"
			}
			continue
		}
		pos = append(pos, w)
	}
	if len(pos) == 0 {
		return Stage{}, fmt.Errorf("dockerfile line %d: FROM without an image", in.line)
	}
	st := Stage{Line: in.line, From: substitute(unquote(pos[0]), vars)}
	if len(pos) >= 3 && strings.EqualFold(pos[1], "AS") {
		st.Name = strings.ToLower(pos[2])
	}
	if st.From == "" {
		return Stage{}, fmt.Errorf("dockerfile line %d: FROM %s is empty after substituting build arguments", in.line, pos[0])
	}
	return st, nil
}

type instruction struct {
	cmd  string // upper case
	rest string
	line int
}

// instructions joins continuation lines, drops comments and directives, and
// skips heredoc bodies.
func instructions(data []byte) ([]instruction, error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), maxDockerfile)
	escape := byte('\\')
	var out []instruction
	var cur strings.Builder
	curLine := 0
	lineNo := 0
	directives := true
	var heredocs []string
	for sc.Scan() {
		lineNo++
		line := strings.TrimRight(sc.Text(), "\r")
		if len(heredocs) > 0 {
			// Inside a heredoc body: wait for its terminator (<<- allows tabs).
			if strings.TrimLeft(line, "\t") == heredocs[0] {
				heredocs = heredocs[1:]
			}
			continue
		}
		trimmed := strings.TrimSpace(line)
		if directives {
			if strings.HasPrefix(trimmed, "#") {
				k, v, ok := strings.Cut(strings.TrimSpace(trimmed[1:]), "=")
				if ok && strings.EqualFold(strings.TrimSpace(k), "escape") {
					if v = strings.TrimSpace(v); v == "`" {
						escape = '`'
					}
				}
				continue
			}
			directives = false
		}
		if cur.Len() == 0 && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if cur.Len() > 0 && strings.HasPrefix(trimmed, "#") {
			continue // comment lines inside a continuation are dropped
		}
		if cur.Len() == 0 {
			curLine = lineNo
		}
		if n := len(trimmed); n > 0 && trimmed[n-1] == escape {
			cur.WriteString(trimmed[:n-1])
			cur.WriteByte(' ')
			continue
		}
		cur.WriteString(trimmed)
		full := strings.TrimSpace(cur.String())
		cur.Reset()
		if full == "" {
			continue
		}
		in := splitInstruction(full, curLine)
		out = append(out, in)
		switch in.cmd {
		case "RUN", "COPY", "ADD":
			heredocs = heredocTerminators(in.rest)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read dockerfile: %w", err)
	}
	if cur.Len() > 0 {
		out = append(out, splitInstruction(strings.TrimSpace(cur.String()), curLine))
	}
	return out, nil
}

func splitInstruction(full string, line int) instruction {
	cmd, rest := full, ""
	if i := strings.IndexAny(full, " \t"); i >= 0 {
		cmd, rest = full[:i], full[i+1:]
	}
	return instruction{cmd: strings.ToUpper(cmd), rest: strings.TrimSpace(rest), line: line}
}

// heredocTerminators finds "<<EOF", "<<-EOF", "<<'EOF'" and "<<\"EOF\"" words.
func heredocTerminators(s string) []string {
	var out []string
	for {
		i := strings.Index(s, "<<")
		if i < 0 {
			return out
		}
		s = s[i+2:]
		s = strings.TrimPrefix(s, "-")
		end := strings.IndexAny(s, " \t;&|><")
		word := s
		if end >= 0 {
			word = s[:end]
		}
		word = strings.Trim(word, `"'`)
		if word != "" && isWord(word) {
			out = append(out, word)
		}
	}
}

func isWord(s string) bool {
	for _, r := range s {
		if !(r == '_' || r == '-' || r == '.' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

// splitWords splits on whitespace, keeping quoted runs together.
func splitWords(s string) []string {
	var out []string
	var cur strings.Builder
	var quote rune
	inWord := false
	for _, r := range s {
		switch {
		case quote != 0:
			cur.WriteRune(r)
			if r == quote {
				quote = 0
			}
		case r == '"' || r == '\'':
			quote = r
			cur.WriteRune(r)
			inWord = true
		case r == ' ' || r == '\t':
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		out = append(out, cur.String())
	}
	return out
}

func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '"' && s[len(s)-1] == '"' || s[0] == '\'' && s[len(s)-1] == '\'') {
		return s[1 : len(s)-1]
	}
	return s
}

// substitute expands $VAR, ${VAR}, ${VAR:-default} and ${VAR:+alt}.
// Unknown variables expand to the empty string, as in docker build.
func substitute(s string, vars map[string]string) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) && s[i+1] == '$' {
			b.WriteByte('$')
			i++
			continue
		}
		if c != '$' || i+1 >= len(s) {
			b.WriteByte(c)
			continue
		}
		if s[i+1] == '{' {
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				b.WriteString(s[i:])
				return b.String()
			}
			expr := s[i+2 : i+2+end]
			i += 2 + end
			name, mod, word := expr, "", ""
			if k := strings.Index(expr, ":"); k >= 0 && k+1 < len(expr) && (expr[k+1] == '-' || expr[k+1] == '+') {
				name, mod, word = expr[:k], expr[k:k+2], expr[k+2:]
			}
			v := vars[name]
			switch mod {
			case ":-":
				if v == "" {
					v = substitute(word, vars)
				}
			case ":+":
				if v != "" {
					v = substitute(word, vars)
				}
			}
			b.WriteString(v)
			continue
		}
		j := i + 1
		for j < len(s) && (s[j] == '_' || s[j] >= '0' && s[j] <= '9' || s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z') {
			j++
		}
		if j == i+1 {
			b.WriteByte(c)
			continue
		}
		b.WriteString(vars[s[i+1:j]])
		i = j - 1
	}
	return b.String()
}

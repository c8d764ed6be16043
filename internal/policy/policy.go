package policy

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/drydock/drydock/internal/configfile"
	"github.com/drydock/drydock/internal/finding"
)

// APIVersion and Kind identify a policy document.
const (
	APIVersion = "drydock.dev/v1"
	Kind       = "Policy"
)

// Names of the built-in rules, as exceptions and violations spell them.
const (
	RuleAllowedImages  = "allowedImages"
	RuleRequireDigest  = "requireDigest"
	RuleMaxSeverity    = "maxSeverity"
	RuleDenyFindings   = "denyFindings"
	RuleMaxVerdictAge  = "maxVerdictAge"
	RuleMaxBaseAge     = "maxBaseAge"
	RuleRequireVerdict = "requireVerdict"
)

// builtinNames lists the built-in rules in evaluation order.
var builtinNames = []string{RuleAllowedImages, RuleRequireDigest, RuleRequireVerdict, RuleMaxVerdictAge, RuleMaxBaseAge, RuleMaxSeverity, RuleDenyFindings}

// ErrInvalidPolicy is wrapped by every error about a policy's content (as
// opposed to failing to read it).
var ErrInvalidPolicy = errors.New("invalid policy")

// Policy is a parsed policy with its CEL programs compiled. It is safe for
// concurrent use by many goroutines.
type Policy struct {
	name        string
	path        string
	allowed     []*imageGlob
	allowedRaw  []string
	requireDig  bool
	maxSev      string // "" when unset
	maxSevRank  int
	fixableOnly bool
	// unknownRule is how maxSeverity judges UNKNOWN findings
	// (finding.ParseUnknownRule).
	unknownRule string
	deny        []string
	maxVerdict  time.Duration
	maxBase     time.Duration
	requireVerd bool
	rules       []*celRule
	exceptions  []*exception
	enabled     []string // names of the rules this policy checks, in order
}

// Name is metadata.name.
func (p *Policy) Name() string { return p.name }

// Path is the file the policy was loaded from; empty for Parse.
func (p *Policy) Path() string { return p.path }

// Rules names the rules the policy checks: the built-in rules it enables,
// then its CEL rules, in evaluation order.
func (p *Policy) Rules() []string { return slices.Clone(p.enabled) }

// raw* are the on-disk shape, decoded strictly.
type rawPolicy struct {
	APIVersion string      `json:"apiVersion"`
	Kind       string      `json:"kind"`
	Metadata   rawMetadata `json:"metadata"`
	Spec       rawSpec     `json:"spec"`
}

type rawMetadata struct {
	Name        string            `json:"name"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
}

type rawSpec struct {
	AllowedImages  []string       `json:"allowedImages"`
	RequireDigest  bool           `json:"requireDigest"`
	MaxSeverity    string         `json:"maxSeverity"`
	FixableOnly    bool           `json:"fixableOnly"`
	UnknownSev     string         `json:"unknownSeverity"`
	DenyFindings   []string       `json:"denyFindings"`
	MaxVerdictAge  string         `json:"maxVerdictAge"`
	MaxBaseAge     string         `json:"maxBaseAge"`
	RequireVerdict bool           `json:"requireVerdict"`
	Rules          []rawRule      `json:"rules"`
	Exceptions     []rawException `json:"exceptions"`
}

type rawRule struct {
	Name              string `json:"name"`
	Expression        string `json:"expression"`
	Message           string `json:"message"`
	MessageExpression string `json:"messageExpression"`
}

type rawException struct {
	Rules      []string `json:"rules"`
	Namespaces []string `json:"namespaces"`
	Images     []string `json:"images"`
	Reason     string   `json:"reason"`
	Expires    string   `json:"expires"`
}

// Load reads and parses the policy file at path.
func Load(path string) (*Policy, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load policy: %w", err)
	}
	p, err := parse(b, path)
	if err != nil {
		return nil, err
	}
	p.path = path
	return p, nil
}

// Parse parses a policy document and compiles its CEL rules. Errors wrap
// ErrInvalidPolicy and name the field, rule or exception at fault.
func Parse(b []byte) (*Policy, error) { return parse(b, "") }

// ruleName is what a CEL rule may be called; compiled on first use, not at
// start-up ({0,62} expands into a large program).
var ruleName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9._-]{0,62}[A-Za-z0-9])?$`) })

// maxExpressionLen bounds a rule's source; policies are written by people.
const maxExpressionLen = 10000

func parse(b []byte, name string) (*Policy, error) {
	op := "parse policy"
	if name != "" {
		op += " " + name
	}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%s: %w: %s", op, ErrInvalidPolicy, fmt.Sprintf(format, args...))
	}
	var raw rawPolicy
	empty, err := configfile.DecodeYAML(b, &raw)
	if err != nil {
		return nil, fail("%v", err)
	}
	if empty {
		return nil, fail("empty document")
	}
	if raw.APIVersion != APIVersion || raw.Kind != Kind {
		return nil, fail("apiVersion %q, kind %q: want %s, %s", raw.APIVersion, raw.Kind, APIVersion, Kind)
	}
	p := &Policy{name: strings.TrimSpace(raw.Metadata.Name)}
	if p.name == "" {
		return nil, fail("metadata.name is required")
	}
	op += " " + strconv.Quote(p.name)
	s := raw.Spec

	for i, g := range s.AllowedImages {
		c, err := compileGlob(g)
		if err != nil {
			return nil, fail("spec.allowedImages[%d]: %v", i, err)
		}
		p.allowed = append(p.allowed, c)
		p.allowedRaw = append(p.allowedRaw, g)
	}
	if s.AllowedImages != nil && len(s.AllowedImages) == 0 {
		return nil, fail("spec.allowedImages is empty: it would deny every image (leave it out to allow any)")
	}
	p.requireDig = s.RequireDigest
	if s.MaxSeverity != "" {
		p.maxSev = strings.ToUpper(strings.TrimSpace(s.MaxSeverity))
		if p.maxSevRank = SeverityRank(p.maxSev); p.maxSevRank < 0 {
			return nil, fail("spec.maxSeverity %q: want one of %s", s.MaxSeverity, strings.Join(severities, ", "))
		}
	}
	p.fixableOnly = s.FixableOnly
	if p.unknownRule, err = finding.ParseUnknownRule(s.UnknownSev); err != nil {
		return nil, fail("spec.unknownSeverity %v", err)
	}
	if s.UnknownSev != "" && p.maxSev == "" {
		return nil, fail("spec.unknownSeverity needs spec.maxSeverity")
	}
	if p.fixableOnly && p.maxSev == "" {
		return nil, fail("spec.fixableOnly needs spec.maxSeverity")
	}
	for i, id := range s.DenyFindings {
		id = strings.TrimSpace(id)
		if id == "" {
			return nil, fail("spec.denyFindings[%d] is empty", i)
		}
		p.deny = append(p.deny, id)
	}
	if s.MaxVerdictAge != "" {
		if p.maxVerdict, err = parseAge(s.MaxVerdictAge); err != nil {
			return nil, fail("spec.maxVerdictAge: %v", err)
		}
	}
	if s.MaxBaseAge != "" {
		if p.maxBase, err = parseAge(s.MaxBaseAge); err != nil {
			return nil, fail("spec.maxBaseAge: %v", err)
		}
	}
	p.requireVerd = s.RequireVerdict

	for _, n := range builtinNames {
		if p.enables(n) {
			p.enabled = append(p.enabled, n)
		}
	}

	env, err := celEnv()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	for i, r := range s.Rules {
		where := fmt.Sprintf("spec.rules[%d]", i)
		if r.Name != "" {
			where += " (" + r.Name + ")"
		}
		switch {
		case r.Name == "":
			return nil, fail("%s: name is required", where)
		case !ruleName().MatchString(r.Name):
			return nil, fail("%s: name must be letters, digits, '.', '_' or '-', at most 64", where)
		case slices.Contains(builtinNames, r.Name):
			return nil, fail("%s: %q is the name of a built-in rule", where, r.Name)
		case slices.Contains(p.enabled, r.Name):
			return nil, fail("%s: a rule named %q comes earlier", where, r.Name)
		case strings.TrimSpace(r.Expression) == "":
			return nil, fail("%s: expression is required", where)
		case r.Message != "" && r.MessageExpression != "":
			return nil, fail("%s: give message or messageExpression, not both", where)
		case len(r.Expression) > maxExpressionLen || len(r.MessageExpression) > maxExpressionLen:
			return nil, fail("%s: expression longer than %d characters", where, maxExpressionLen)
		}
		cr, err := compileRule(env, r)
		if err != nil {
			return nil, fail("%s: %v", where, err)
		}
		p.rules = append(p.rules, cr)
		p.enabled = append(p.enabled, r.Name)
	}

	for i, re := range s.Exceptions {
		e, err := p.compileException(i, re)
		if err != nil {
			return nil, fail("spec.exceptions[%d]: %v", i, err)
		}
		p.exceptions = append(p.exceptions, e)
	}
	return p, nil
}

// enables reports whether the policy checks the built-in rule name.
func (p *Policy) enables(name string) bool {
	switch name {
	case RuleAllowedImages:
		return p.allowed != nil
	case RuleRequireDigest:
		return p.requireDig
	case RuleMaxSeverity:
		return p.maxSev != ""
	case RuleDenyFindings:
		return len(p.deny) > 0
	case RuleMaxVerdictAge:
		return p.maxVerdict > 0
	case RuleMaxBaseAge:
		return p.maxBase > 0
	case RuleRequireVerdict:
		return p.requireVerd
	}
	return false
}

func (p *Policy) compileException(i int, re rawException) (*exception, error) {
	e := &exception{index: i, reason: strings.TrimSpace(re.Reason)}
	if len(re.Rules) == 0 {
		return nil, errors.New(`rules is required (rule names, or "*" for all)`)
	}
	for _, r := range re.Rules {
		r = strings.TrimSpace(r)
		if r == "*" {
			e.all = true
			continue
		}
		if !slices.Contains(p.enabled, r) {
			return nil, fmt.Errorf("rule %q is not a rule of this policy (it has: %s)", r, strings.Join(p.enabled, ", "))
		}
		e.rules = append(e.rules, r)
	}
	if len(re.Namespaces) == 0 && len(re.Images) == 0 {
		return nil, errors.New("needs namespaces or images (or both) to say where it applies")
	}
	for j, g := range re.Namespaces {
		c, err := compileGlob(g)
		if err != nil {
			return nil, fmt.Errorf("namespaces[%d]: %v", j, err)
		}
		e.namespaces = append(e.namespaces, c)
	}
	for j, g := range re.Images {
		c, err := compileGlob(g)
		if err != nil {
			return nil, fmt.Errorf("images[%d]: %v", j, err)
		}
		e.images = append(e.images, c)
	}
	if e.reason == "" {
		return nil, errors.New("reason is required")
	}
	if strings.TrimSpace(re.Expires) == "" {
		return nil, errors.New("expires is required (YYYY-MM-DD or RFC 3339)")
	}
	t, err := configfile.ParseExpiry(re.Expires)
	if err != nil {
		return nil, fmt.Errorf("expires: %v", err)
	}
	e.expires = t
	return e, nil
}

// parseAge reads a positive Go duration or a whole number of days ("30d").
func parseAge(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	var d time.Duration
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days > 100000 {
			return 0, fmt.Errorf("%q: want a duration like 24h or a number of days like 30d", s)
		}
		d = time.Duration(days) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, fmt.Errorf("%q: want a duration like 24h or a number of days like 30d", s)
		}
	}
	if d <= 0 {
		return 0, fmt.Errorf("%q: must be positive", s)
	}
	return d, nil
}

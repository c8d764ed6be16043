package policy

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/ext"
	"cel.dev/cel-go/interpreter"
)

// celEnv is the environment every rule is checked against, built once.
var celEnv = sync.OnceValues(func() (*cel.Env, error) {
	env, err := cel.NewEnv(
		ext.NativeTypes(
			reflect.TypeFor[ImageDoc](), reflect.TypeFor[BaseDoc](), reflect.TypeFor[Finding](),
			reflect.TypeFor[Package](), reflect.TypeFor[VerdictDoc](), reflect.TypeFor[KubeDoc](),
			ext.ParseStructTag("json"),
		),
		ext.Strings(),
		cel.Variable("image", cel.ObjectType("policy.ImageDoc")),
		cel.Variable("findings", cel.ListType(cel.ObjectType("policy.Finding"))),
		cel.Variable("verdict", cel.ObjectType("policy.VerdictDoc")),
		cel.Variable("kubernetes", cel.ObjectType("policy.KubeDoc")),
		cel.Variable("counts", cel.MapType(cel.StringType, cel.IntType)),
		cel.Variable("now", cel.TimestampType),
		cel.Function("severityRank",
			cel.Overload("severityRank_string", []*cel.Type{cel.StringType}, cel.IntType,
				cel.UnaryBinding(func(v ref.Val) ref.Val {
					s, ok := v.(types.String)
					if !ok {
						return types.MaybeNoSuchOverloadErr(v)
					}
					return types.Int(max(SeverityRank(string(s)), 0))
				}))),
	)
	if err != nil {
		return nil, fmt.Errorf("policy: build CEL environment: %w", err)
	}
	return env, nil
})

// celRule is a compiled spec.rules entry.
type celRule struct {
	name    string
	expr    string
	message string
	prog    cel.Program
	msgProg cel.Program // nil unless messageExpression
}

func compileRule(env *cel.Env, r rawRule) (*celRule, error) {
	prog, err := compileExpr(env, r.Expression, cel.BoolType)
	if err != nil {
		return nil, fmt.Errorf("expression: %w", err)
	}
	cr := &celRule{name: r.Name, expr: r.Expression, message: strings.TrimSpace(r.Message), prog: prog}
	if r.MessageExpression != "" {
		if cr.msgProg, err = compileExpr(env, r.MessageExpression, cel.StringType); err != nil {
			return nil, fmt.Errorf("messageExpression: %w", err)
		}
	}
	return cr, nil
}

func compileExpr(env *cel.Env, src string, want *cel.Type) (cel.Program, error) {
	ast, iss := env.Compile(src)
	if iss.Err() != nil {
		return nil, errors.New(strings.TrimPrefix(iss.Err().Error(), "ERROR: "))
	}
	if !ast.OutputType().IsExactType(want) {
		return nil, fmt.Errorf("%q has type %s, want %s", src, cel.FormatCELType(ast.OutputType()), cel.FormatCELType(want))
	}
	// No cel.CostLimit: run-time cost tracking more than doubled the time
	// of an evaluation. Comprehensions check the context instead, so a
	// caller's deadline bounds a runaway rule.
	return env.Program(ast,
		cel.EvalOptions(cel.OptOptimize),
		cel.InterruptCheckFrequency(64),
	)
}

// activation resolves the CEL variables from one Document without a map.
type activation struct {
	image, verdict, kube any
	findings             any
	counts               any
	now                  any
}

func newActivation(d *Document) *activation {
	return &activation{
		image:    d.Image,
		verdict:  d.Verdict,
		kube:     d.Kubernetes,
		findings: d.Findings,
		counts:   d.Counts,
		now:      d.Now,
	}
}

func (a *activation) ResolveName(name string) (any, bool) {
	switch name {
	case "image":
		return a.image, true
	case "findings":
		return a.findings, true
	case "verdict":
		return a.verdict, true
	case "kubernetes":
		return a.kube, true
	case "counts":
		return a.counts, true
	case "now":
		return a.now, true
	}
	return nil, false
}

func (a *activation) Parent() interpreter.Activation { return nil }

// eval runs a rule. violated is false on error; err is a run-time error
// of the expression, or the context's.
func (r *celRule) eval(ctx context.Context, act *activation) (violated bool, msg string, err error) {
	out, _, err := r.prog.ContextEval(ctx, act)
	if err != nil {
		return false, "", err
	}
	b, ok := out.Value().(bool)
	if !ok {
		return false, "", fmt.Errorf("result %v is not a bool", out)
	}
	if !b {
		return false, "", nil
	}
	switch {
	case r.msgProg != nil:
		m, _, err := r.msgProg.ContextEval(ctx, act)
		if err != nil {
			return true, fmt.Sprintf("rule %s matched; its messageExpression failed: %v", r.name, err), nil
		}
		if s, ok := m.Value().(string); ok && s != "" {
			return true, s, nil
		}
	case r.message != "":
		return true, r.message, nil
	}
	return true, fmt.Sprintf("rule %s matched: %s", r.name, r.expr), nil
}

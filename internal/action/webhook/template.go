package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"text/template"
	"text/template/parse"

	"github.com/tendhq/tend/internal/action"
)

// Limits on rendered templates, so that a template cannot make tend build
// an arbitrarily large request.
const (
	maxBodyBytes   = 256 << 10
	maxHeaderBytes = 8 << 10
)

// TemplateData is what a webhook's body and header templates see as dot:
// {{ .Problem.Title }}, {{ .Project }}, {{ .Action.Name }},
// {{ .Problem.Labels.severity }}, and in headers only
// {{ .Secrets.name }}. A missing label or secret reads as "".
type TemplateData struct {
	// Key is the action execution's idempotency key, also sent as the
	// Idempotency-Key header.
	Key     string
	Project string
	Stage   string
	Service string
	Action  ActionData
	Problem action.Problem
	// Secrets holds the resolved secrets a header references; it is nil
	// when a body is rendered, since bodies may not use secrets.
	Secrets map[string]string
}

// ActionData describes the action being run, for templates.
type ActionData struct {
	// Name and Description are the remediation file's labels.
	Name        string
	Description string
	// Type is the action's type, e.g. "webhook".
	Type string
}

func templateData(req action.Request) TemplateData {
	return TemplateData{
		Key:     req.Key,
		Project: req.Project,
		Stage:   req.Stage,
		Service: req.Service,
		Action:  ActionData{Name: req.Name, Description: req.Description, Type: req.Action},
		Problem: req.Problem,
	}
}

// funcs are the functions templates may call besides text/template's own.
var funcs = template.FuncMap{
	// json renders any value as JSON: a string becomes a quoted, escaped
	// JSON string, so '{"title": {{ json .Problem.Title }}}' stays valid
	// JSON whatever the title holds.
	"json": jsonValue,
}

func jsonValue(v any) (string, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

// compiled is one parsed template and the secrets it references.
type compiled struct {
	field   string
	tmpl    *template.Template
	secrets []string
}

// compile parses src as the template of field (e.g. "body" or
// "headers.Authorization") and finds the secrets it references.
// Secret references must be static: {{ .Secrets.name }},
// {{ $.Secrets.name }} or {{ index .Secrets "name" }}.
func compile(field, src string) (*compiled, error) {
	t, err := template.New(field).Option("missingkey=zero").Funcs(funcs).Parse(src)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", field, err)
	}
	names := map[string]bool{}
	for _, tt := range t.Templates() {
		if tt.Tree == nil || tt.Tree.Root == nil {
			continue
		}
		if err := secretRefs(tt.Tree.Root, names); err != nil {
			return nil, fmt.Errorf("%s: %w", field, err)
		}
	}
	c := &compiled{field: field, tmpl: t}
	for n := range names {
		c.secrets = append(c.secrets, n)
	}
	sort.Strings(c.secrets)
	return c, nil
}

var errDynamicSecret = errors.New(`secrets must be named in the template, as {{ .Secrets.name }} or {{ index .Secrets "name" }}`)

// secretRefs walks a template's parse tree and collects the names of the
// secrets it references, refusing references it cannot name statically
// (the resolver is asked only for the secrets a template names).
func secretRefs(n parse.Node, names map[string]bool) error {
	switch n := n.(type) {
	case nil:
		return nil
	case *parse.ListNode:
		if n == nil {
			return nil
		}
		for _, c := range n.Nodes {
			if err := secretRefs(c, names); err != nil {
				return err
			}
		}
	case *parse.ActionNode:
		return secretRefs(n.Pipe, names)
	case *parse.PipeNode:
		if n == nil {
			return nil
		}
		for _, c := range n.Cmds {
			if err := secretRefs(c, names); err != nil {
				return err
			}
		}
	case *parse.CommandNode:
		args := n.Args
		if len(args) == 3 {
			if id, ok := args[0].(*parse.IdentifierNode); ok && id.Ident == "index" && isSecretsRoot(args[1]) {
				if s, ok := args[2].(*parse.StringNode); ok {
					names[s.Text] = true
					return nil
				}
				return errDynamicSecret
			}
		}
		for _, a := range args {
			if err := secretRefs(a, names); err != nil {
				return err
			}
		}
	case *parse.IfNode:
		return branchRefs(&n.BranchNode, names)
	case *parse.RangeNode:
		return branchRefs(&n.BranchNode, names)
	case *parse.WithNode:
		return branchRefs(&n.BranchNode, names)
	case *parse.TemplateNode:
		return secretRefs(n.Pipe, names)
	case *parse.ChainNode:
		return secretRefs(n.Node, names)
	case *parse.FieldNode:
		if len(n.Ident) > 0 && n.Ident[0] == "Secrets" {
			if len(n.Ident) < 2 {
				return errDynamicSecret
			}
			names[n.Ident[1]] = true
		}
	case *parse.VariableNode:
		if len(n.Ident) > 1 && n.Ident[0] == "$" && n.Ident[1] == "Secrets" {
			if len(n.Ident) < 3 {
				return errDynamicSecret
			}
			names[n.Ident[2]] = true
		}
	}
	return nil
}

func branchRefs(b *parse.BranchNode, names map[string]bool) error {
	if err := secretRefs(b.Pipe, names); err != nil {
		return err
	}
	if err := secretRefs(b.List, names); err != nil {
		return err
	}
	return secretRefs(b.ElseList, names)
}

func isSecretsRoot(n parse.Node) bool {
	switch n := n.(type) {
	case *parse.FieldNode:
		return len(n.Ident) == 1 && n.Ident[0] == "Secrets"
	case *parse.VariableNode:
		return len(n.Ident) == 2 && n.Ident[0] == "$" && n.Ident[1] == "Secrets"
	}
	return false
}

// render executes the template into at most limit bytes.
func (c *compiled) render(data TemplateData, limit int) (string, error) {
	w := &limitedBuffer{limit: limit}
	if err := c.tmpl.Execute(w, data); err != nil {
		if errors.Is(err, errTooLarge) {
			return "", fmt.Errorf("%s: the rendered template is larger than %d bytes", c.field, limit)
		}
		return "", fmt.Errorf("%s: %w", c.field, err)
	}
	return w.String(), nil
}

var errTooLarge = errors.New("rendered template too large")

// limitedBuffer is a bytes.Buffer that refuses to grow past limit.
type limitedBuffer struct {
	bytes.Buffer
	limit int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if b.Len()+len(p) > b.limit {
		return 0, errTooLarge
	}
	return b.Buffer.Write(p)
}

// RenderBody renders a body template for req, as Prepare does: with the
// json function and without secrets. It is exported for tests and tools
// that want to preview a webhook's body.
func RenderBody(src string, req action.Request) (string, error) {
	c, err := compile("body", src)
	if err != nil {
		return "", err
	}
	if len(c.secrets) > 0 {
		return "", fmt.Errorf("body: references secret %q; secrets may be used only in headers, so they never reach the plan or the event log", c.secrets[0])
	}
	return c.render(templateData(req), maxBodyBytes)
}

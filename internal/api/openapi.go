package api

import (
	"encoding/json"
	"net/http"
	"reflect"
	"regexp"
	"strings"
	"time"

	"github.com/tendhq/tend/internal/apitypes"
	"github.com/tendhq/tend/internal/settings"
)

// The OpenAPI document is generated from the route table and, by
// reflection, from the wire types in apitypes, so neither can drift from
// what the server does; a golden test shows every change to it in review.

// OpenAPIDocument returns the API's OpenAPI 3.0 document as indented JSON.
func (s *Server) OpenAPIDocument() []byte {
	b, err := json.MarshalIndent(s.openAPIValue(), "", "  ")
	if err != nil {
		// The document is made of maps, slices and strings only.
		panic("api: encode the OpenAPI document: " + err.Error())
	}
	return append(b, '\n')
}

func (s *Server) openAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(s.OpenAPIDocument())
}

type obj = map[string]any

var pathParamRE = regexp.MustCompile(`\{([A-Za-z]+)\}`)

var pathParamDocs = map[string]string{
	"project":     "Project name.",
	"stage":       "Stage name, as in the project's shipyard.",
	"service":     "Service name.",
	"resourceURI": "Resource path within the level, URL-escaped as one segment (prometheus%2Fsli.yaml); plain segments are accepted too.",
	"name":        "Token name.",
	"type":        "Event type, e.g. sh.keptn.event.action.triggered (the short form action.triggered is accepted).",
}

func (s *Server) openAPIValue() obj {
	g := &schemaGen{schemas: obj{}}
	errRef := g.ref(reflect.TypeFor[apitypes.Error]())
	errResp := func(desc string) obj {
		return obj{"description": desc, "content": obj{"application/json": obj{"schema": errRef}}}
	}
	paths := obj{}
	for _, rt := range s.routes() {
		for i, p := range rt.docPaths() {
			op := s.operation(g, rt, p)
			if i > 0 {
				op["operationId"] = rt.op + "Legacy"
				op["summary"] = rt.summary + " (Keptn 0.6 path)"
			}
			item, _ := paths[p].(obj)
			if item == nil {
				item = obj{}
				paths[p] = item
			}
			item[strings.ToLower(rt.method)] = op
		}
	}
	return obj{
		"openapi": "3.0.3",
		"info": obj{
			"title":   "tend API",
			"version": "v1",
			"description": "tend's REST API: projects, services, Git-backed resources, the event log and API tokens. " +
				"Every error answers {\"code\": <HTTP status>, \"message\": \"...\"}. " +
				"Send the API token as x-token or Authorization: Bearer; only /healthz, /readyz and /metrics answer without one.",
		},
		"servers":  []any{obj{"url": "/"}},
		"security": []any{obj{"apiToken": []any{}}, obj{"bearer": []any{}}},
		"tags": []any{
			obj{"name": "health"}, obj{"name": "meta"}, obj{"name": "tokens"}, obj{"name": "projects"},
			obj{"name": "services"}, obj{"name": "resources"}, obj{"name": "events"},
		},
		"paths": paths,
		"components": obj{
			"schemas": g.schemas,
			"securitySchemes": obj{
				"apiToken": obj{"type": "apiKey", "in": "header", "name": "x-token", "description": "Keptn's API token header."},
				"bearer":   obj{"type": "http", "scheme": "bearer", "description": "The same API token as a bearer token."},
			},
			"responses": obj{
				"BadRequest":      errResp("The request is malformed: bad JSON (with line and column), a bad name, or an invalid spec file (FILE:LINE:COL lines)."),
				"Unauthorized":    errResp("No API token, or one that is unknown or revoked."),
				"Forbidden":       errResp("The token's scope or project does not allow this."),
				"NotFound":        errResp("The project, service, stage, resource, version or token does not exist."),
				"Conflict":        errResp("A project, service or token of that name exists already."),
				"PayloadTooLarge": errResp("The request body is larger than the server's limit (1 MiB by default)."),
				"InternalError":   errResp("The server failed; its log has the details."),
				"Unavailable":     errResp("The store is not reachable, or the server is shutting down."),
			},
		},
	}
}

func (s *Server) operation(g *schemaGen, rt route, p string) obj {
	op := obj{
		"operationId": rt.op,
		"summary":     rt.summary,
		"tags":        []any{rt.tag},
	}
	var params []any
	for _, m := range pathParamRE.FindAllStringSubmatch(p, -1) {
		params = append(params, obj{"name": m[1], "in": "path", "required": true,
			"description": pathParamDocs[m[1]], "schema": obj{"type": "string"}})
	}
	for _, q := range rt.query {
		typ := "string"
		if q.integer {
			typ = "integer"
		}
		params = append(params, obj{"name": q.name, "in": "query", "required": false, "description": q.desc, "schema": obj{"type": typ}})
	}
	if rt.op == "streamEvents" {
		params = append(params, obj{"name": "Last-Event-ID", "in": "header", "required": false,
			"description": "Resume after this event id.", "schema": obj{"type": "string"}})
	}
	if params != nil {
		op["parameters"] = params
	}
	hasBody := rt.request != nil || rt.requestDoc != nil
	switch {
	case rt.request != nil:
		op["requestBody"] = obj{"required": true, "content": obj{"application/json": obj{"schema": g.ref(reflect.TypeOf(rt.request))}}}
	case rt.requestDoc != nil:
		op["requestBody"] = obj{"required": true, "content": obj{"application/json": obj{"schema": g.fieldsRef(rt.requestDoc)}}}
	}
	ok := obj{"description": "Success."}
	switch {
	case rt.response != nil:
		ok["content"] = obj{"application/json": obj{"schema": g.ref(reflect.TypeOf(rt.response))}}
	case rt.contentType == "application/json":
		ok["content"] = obj{"application/json": obj{"schema": obj{"type": "object"}}}
	case rt.contentType != "":
		ok["content"] = obj{rt.contentType: obj{"schema": obj{"type": "string"}}}
	}
	if rt.status == http.StatusNoContent {
		ok["description"] = "Done; no content."
	}
	resp := obj{itoa(rt.status): ok}
	ref := func(name string) obj { return obj{"$ref": "#/components/responses/" + name} }
	if rt.access == accessPublic {
		op["security"] = []any{}
	} else {
		resp["401"] = ref("Unauthorized")
		resp["403"] = ref("Forbidden")
	}
	if hasBody || len(rt.query) > 0 || strings.Contains(p, "{") {
		resp["400"] = ref("BadRequest")
	}
	if hasBody {
		resp["413"] = ref("PayloadTooLarge")
	}
	if strings.Contains(p, "{") || rt.tag == "resources" {
		resp["404"] = ref("NotFound")
	}
	if rt.method == http.MethodPost && rt.status == http.StatusCreated && rt.tag != "resources" {
		resp["409"] = ref("Conflict")
	}
	if rt.path == "/readyz" {
		resp["503"] = ref("Unavailable")
	}
	resp["500"] = ref("InternalError")
	op["responses"] = resp
	return op
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// schemaGen derives JSON schemas from Go types, registering named structs
// under components/schemas.
type schemaGen struct {
	schemas obj
}

var schemaNames = map[reflect.Type]string{
	reflect.TypeFor[cloudEvent]():   "CloudEvent",
	reflect.TypeFor[statusAnswer](): "Status",
}

func (g *schemaGen) ref(t reflect.Type) obj {
	switch t {
	case reflect.TypeFor[time.Time]():
		return obj{"type": "string", "format": "date-time"}
	case reflect.TypeFor[json.RawMessage]():
		return obj{"type": "object", "description": "A structured-JSON CloudEvent.", "additionalProperties": true}
	case reflect.TypeFor[apitypes.Scope]():
		return obj{"type": "string", "enum": []any{"read", "write", "admin"}}
	}
	switch t.Kind() {
	case reflect.Pointer:
		return g.ref(t.Elem())
	case reflect.Struct:
		name := schemaNames[t]
		if name == "" {
			name = t.Name()
		}
		if _, ok := g.schemas[name]; !ok {
			g.schemas[name] = obj{} // a placeholder ends recursion
			g.schemas[name] = g.structSchema(t)
		}
		return obj{"$ref": "#/components/schemas/" + name}
	case reflect.Slice, reflect.Array:
		return obj{"type": "array", "items": g.ref(t.Elem())}
	case reflect.Map:
		return obj{"type": "object", "additionalProperties": true}
	case reflect.String:
		return obj{"type": "string"}
	case reflect.Bool:
		return obj{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return obj{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return obj{"type": "number"}
	}
	return obj{}
}

// bodyDoc is a request body described by a settings schema's fields.
type bodyDoc struct {
	name   string
	fields []settings.Field
}

// fieldsRef registers the schema of a settings body under its name.
func (g *schemaGen) fieldsRef(b *bodyDoc) obj {
	if _, ok := g.schemas[b.name]; !ok {
		props := obj{}
		var required []any
		for _, f := range b.fields {
			switch f.Kind {
			case settings.Int:
				props[f.Name] = obj{"type": "integer"}
			case settings.Bool:
				props[f.Name] = obj{"type": "boolean"}
			default:
				props[f.Name] = obj{"type": "string"}
			}
			if f.Required {
				required = append(required, f.Name)
			}
		}
		out := obj{"type": "object", "properties": props}
		if required != nil {
			out["required"] = required
		}
		g.schemas[b.name] = out
	}
	return obj{"$ref": "#/components/schemas/" + b.name}
}

func (g *schemaGen) structSchema(t reflect.Type) obj {
	props := obj{}
	var required []any
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" {
			name = f.Name
		}
		props[name] = g.ref(f.Type)
		if !strings.Contains(opts, "omitempty") {
			required = append(required, name)
		}
	}
	out := obj{"type": "object", "properties": props}
	if required != nil {
		out["required"] = required
	}
	return out
}

package httpapi

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/tickler-go/tickler"
)

// check runs a shape over the JSON of v.
func check(t *testing.T, s shape, v any) []fieldError {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return checkBody(b, s)
}

// Every field the scheduler's types encode is one the shapes accept: a
// request with every field set passes the shape check, so a field added to
// the types but unknown to the shapes fails here.
func TestShapesAcceptEveryFieldOfTheTypes(t *testing.T) {
	t.Parallel()
	s := func(v string) *string { return &v }
	steps := 3
	detail := "low"
	msgs := []tickler.Message{
		{Content: tickler.Text("hi"), Role: tickler.RoleUser, Name: s("n"), OTID: s("o"), SenderID: s("x"), Type: s("message")},
		{Content: tickler.Parts(
			tickler.ContentPart{Text: "t", Signature: s("sig"), Type: "text"},
			tickler.ContentPart{Type: "image", Source: &tickler.ImageSource{Data: "d", MediaType: "image/png", Detail: &detail, Type: "base64"}},
		), Role: tickler.RoleAssistant},
	}
	create := tickler.CreateRequest{
		Messages: msgs, Schedule: tickler.At(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)), CallbackURL: "https://example.com/cb",
		IncludeReturnMessageTypes: []string{"assistant_message"}, MaxSteps: &steps,
	}
	if errs := check(t, createShape, create); errs != nil {
		t.Errorf("create: %+v", errs)
	}
	cron := tickler.Cron("* * * * *")
	types := []string{}
	update := tickler.UpdateRequest{Messages: msgs, Schedule: &cron, CallbackURL: s(""), IncludeReturnMessageTypes: &types, MaxSteps: &steps}
	if errs := check(t, updateShape, update); errs != nil {
		t.Errorf("update: %+v", errs)
	}
}

// The shapes follow the types: a field added to a type is known to its
// shape, required unless it is optional in JSON, and a field the type does
// not have is refused.
func TestShapeOfFollowsTheJSONTags(t *testing.T) {
	t.Parallel()
	type part struct {
		Label string `json:"label,omitempty"`
	}
	type request struct {
		Priority int             `json:"priority"`
		Tags     []string        `json:"tags,omitzero"`
		Part     *part           `json:"part"`
		Content  tickler.Content `json:"content,omitempty"`
		hidden   string
	}
	s := shapeOf(reflect.TypeFor[request]())
	if errs := checkBody([]byte(`{"priority":1,"tags":["a"],"part":{"label":"x"},"content":[{"text":"hi"}]}`), s); errs != nil {
		t.Errorf("a body with every field: %+v", errs)
	}
	got := checkBody([]byte(`{"tags":[1],"part":{"colour":"red"},"content":5,"hidden":"x"}`), s)
	want := []string{
		`[body priority] missing`,
		`[body tags 0] string_type`,
		`[body part colour] extra_forbidden`,
		`[body content] union_type`,
		`[body hidden] extra_forbidden`,
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v, want %v", got, want)
	}
	for i, e := range got {
		if s := fmt.Sprint(e.Loc) + " " + e.Type; s != want[i] {
			t.Errorf("error %d: %s, want %s", i, s, want[i])
		}
	}
	_ = request{}.hidden
}

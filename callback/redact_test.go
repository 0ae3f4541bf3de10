package callback

import "testing"

func TestRedactReplacesOnlyTheUserInformation(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"https://user:pass@example.com/hook":   "https://xxxxx@example.com/hook",
		"https://token@example.com":            "https://xxxxx@example.com",
		"http://a@b:c@example.com:8080/x?y=z":  "http://xxxxx@example.com:8080/x?y=z",
		"http://user:pa ss@exa mple.com/":      "http://xxxxx@exa mple.com/",
		"http:user:pass@example.com/":          "http:xxxxx@example.com/",
		"https://example.com/path@x?q=a@b#f@g": "https://example.com/path@x?q=a@b#f@g",
		"https://example.com/hook":             "https://example.com/hook",
		"":                                     "",
	} {
		if got := redact(in); got != want {
			t.Errorf("redact(%q) = %q, want %q", in, got, want)
		}
	}
}

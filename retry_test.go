package tickler_test

import (
	"testing"
	"time"

	"github.com/tickler-go/tickler"
)

// TestRetryDelayDoublesWithoutCap is the regression test of a policy with
// Cap 0, whose delay used to stay at Base: zero cap means no cap.
func TestRetryDelayDoublesWithoutCap(t *testing.T) {
	t.Parallel()
	p := tickler.RetryPolicy{MaxAttempts: 10, Base: time.Second}
	for n, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 5: 16 * time.Second, 10: 512 * time.Second} {
		for range 50 {
			if d := p.Delay(n); d < want/2 || d > want {
				t.Fatalf("Delay(%d) = %v, want within [%v, %v]", n, d, want/2, want)
			}
		}
	}
}

func TestRetryDelayIsCappedAndNeverOverflows(t *testing.T) {
	t.Parallel()
	capped := tickler.RetryPolicy{MaxAttempts: 100, Base: time.Second, Cap: 10 * time.Second}
	uncapped := tickler.RetryPolicy{MaxAttempts: 100, Base: time.Hour}
	for n := 1; n <= 100; n++ {
		if d := capped.Delay(n); d > 10*time.Second || d < 0 {
			t.Fatalf("capped Delay(%d) = %v, want at most the 10s cap", n, d)
		}
		if d := uncapped.Delay(n); d > tickler.MaxRetryDelay || d <= 0 {
			t.Fatalf("uncapped Delay(%d) = %v, want in (0, %v]", n, d, tickler.MaxRetryDelay)
		}
	}
	if d := (tickler.RetryPolicy{MaxAttempts: 1}).Delay(3); d != 0 {
		t.Fatalf("Delay with Base 0 = %v, want 0", d)
	}
}

func TestRetryPolicyValidateNamesTheField(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		p     tickler.RetryPolicy
		field string
	}{
		{tickler.RetryPolicy{MaxAttempts: 0}, "retry.max_attempts"},
		{tickler.RetryPolicy{MaxAttempts: 1, Base: -1}, "retry.base"},
		{tickler.RetryPolicy{MaxAttempts: 1, Cap: -1}, "retry.cap"},
		{tickler.RetryPolicy{MaxAttempts: 1, Base: time.Minute, Cap: time.Second}, "retry.cap"},
	} {
		err := c.p.Validate()
		ve, ok := err.(*tickler.ValidationError)
		if !ok || ve.Field != c.field {
			t.Errorf("Validate(%+v) = %v, want a validation error on %s", c.p, err, c.field)
		}
	}
	if err := tickler.DefaultRetryPolicy().Validate(); err != nil {
		t.Fatalf("the default policy does not validate: %v", err)
	}
}

package browsertest

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/httpapi"
	"github.com/tickler-go/tickler/memory"
)

// timeout bounds the whole browser session of a test.
const timeout = 60 * time.Second

// chromium returns the path of a Chromium, or skips (fails, with
// TICKLER_REQUIRE_BROWSER=1) when there is none.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("TICKLER_REQUIRE_BROWSER") == "1" {
		t.Fatal("TICKLER_REQUIRE_BROWSER=1 and no chromium on PATH (apt-get install -y chromium)")
	}
	t.Skip("no chromium on PATH: apt-get install -y chromium (TICKLER_REQUIRE_BROWSER=1 fails instead)")
	return ""
}

// browser returns a chromedp context on a new headless Chromium, ended
// with the test.
func browser(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.NoSandbox, // the test may run as root, where Chromium's sandbox refuses to start
		chromedp.DisableGPU,
		chromedp.WindowSize(1400, 900),
	)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(acancel)
	bctx, bcancel := chromedp.NewContext(actx)
	t.Cleanup(bcancel)
	return bctx
}

// site serves the admin handler of a scheduler over a memory store that
// holds three schedules of two agents, the first with a failed delivery.
type site struct {
	url string
	ids []string
}

func newSite(t *testing.T, key string) *site {
	t.Helper()
	st := memory.New()
	s, err := tickler.New(st, tickler.DelivererFunc(func(ctx context.Context, d *tickler.Delivery) (tickler.Result, error) {
		return tickler.Result{}, nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	si := &site{}
	for i, agent := range []string{"agent-1", "agent-2", "agent-1"} {
		sm, err := s.Create(ctx, agent, tickler.CreateRequest{
			Messages: []tickler.Message{{Role: tickler.RoleUser, Content: tickler.Text("<b>not bold</b>")}},
			Schedule: tickler.Cron(fmt.Sprintf("%d 9 * * *", i)),
			Name:     fmt.Sprintf("job <%d>", i),
		})
		if err != nil {
			t.Fatal(err)
		}
		si.ids = append(si.ids, sm.ID)
	}
	out := &tickler.Outcome{ID: "0195ffff-0000-7000-8000-000000000000", ScheduledMessageID: si.ids[0], Status: tickler.StatusFailed,
		Attempts: 5, Error: "agent unreachable", SentAt: time.Now(), Occurrence: time.Now()}
	if err := st.Ack(ctx, tickler.AckParams{ID: si.ids[0], Outcome: out, HistoryLimit: 10, HistoryOnly: true}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(httpapi.NewAdmin(s, httpapi.WithAuthorizer(httpapi.BearerToken(key))))
	t.Cleanup(srv.Close)
	si.url = srv.URL + "/admin/"
	return si
}

// run runs a chromedp action, failing the test on error.
func run[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// do runs chromedp steps, failing the test on error.
func do(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatal(err)
	}
}

func TestAdminPageListsSchedulesOnceTheKeyIsTyped(t *testing.T) {
	t.Parallel()
	ctx := browser(t)
	si := newSite(t, "s3cret")
	row := func(id string) chromedp.CSS { return chromedp.CSS(`#schedules tr[data-id="` + id + `"]`) }

	do(t, ctx,
		chromedp.Navigate(si.url),
		chromedp.WaitVisible(chromedp.ID("key")),
		chromedp.SendKeys(chromedp.ID("key"), "s3cret"),
		chromedp.Click(chromedp.CSS(`#login button[type="submit"]`)),
		chromedp.WaitVisible(row(si.ids[2])),
		chromedp.WaitVisible(chromedp.CSS("#deliveries tr")),
	)
	rows := run(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll("#schedules tr").length`))
	counts := run(t, ctx, chromedp.Text(chromedp.ID("counts")))
	deliveries := run(t, ctx, chromedp.Text(chromedp.ID("deliveries")))
	status0 := run(t, ctx, chromedp.Text(row(si.ids[0])+" td.status"))
	name0 := run(t, ctx, chromedp.Text(row(si.ids[0])+" td:nth-child(3)"))
	stored := run(t, ctx, chromedp.Evaluate[string](`sessionStorage.getItem("tickler-admin-key")`))
	if rows != 3 || !strings.Contains(counts, "total: 3") || !strings.Contains(counts, "failing: 1") || !strings.Contains(counts, "agents: 2") {
		t.Fatalf("rows %d, counts %q", rows, counts)
	}
	if status0 != "failing" || name0 != "job <0>" {
		t.Fatalf("first row: status %q, name %q (values must show as text)", status0, name0)
	}
	if !strings.Contains(deliveries, "agent unreachable") || !strings.Contains(deliveries, si.ids[0]) {
		t.Fatalf("deliveries: %q", deliveries)
	}
	if stored != "s3cret" {
		t.Fatalf("sessionStorage holds %q", stored)
	}

	// A button acts, and the page shows the result: Pause, then the row
	// says paused. A reload keeps the key.
	do(t, ctx,
		chromedp.Click(row(si.ids[1])+" button"),
		chromedp.WaitVisible(row(si.ids[1])+" td.status-paused"),
		chromedp.Reload(),
		chromedp.WaitVisible(row(si.ids[1])+" td.status-paused"),
	)
	if status1 := run(t, ctx, chromedp.Text(row(si.ids[1])+" td.status")); status1 != "paused" {
		t.Fatalf("after Pause: %q", status1)
	}
	if path := os.Getenv("TICKLER_BROWSER_SCREENSHOT"); path != "" {
		png := run(t, ctx, chromedp.FullScreenshot(100))
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestAdminPageAsksAgainForARefusedKey(t *testing.T) {
	t.Parallel()
	ctx := browser(t)
	si := newSite(t, "s3cret")
	do(t, ctx,
		chromedp.Navigate(si.url),
		chromedp.WaitVisible(chromedp.ID("key")),
		chromedp.SendKeys(chromedp.ID("key"), "wrong"),
		chromedp.Click(chromedp.CSS(`#login button[type="submit"]`)),
	)
	run(t, ctx, chromedp.Poll[bool](`document.getElementById("error").textContent !== ""`))
	msg := run(t, ctx, chromedp.Text(chromedp.ID("error")))
	stored := run(t, ctx, chromedp.Evaluate[*string](`sessionStorage.getItem("tickler-admin-key")`))
	visible := run(t, ctx, chromedp.Evaluate[bool](`!document.getElementById("login").hidden`))
	if msg != "The key was refused." || stored != nil || !visible {
		t.Fatalf("after a wrong key: %q, stored %v, login shown %v", msg, stored, visible)
	}
}

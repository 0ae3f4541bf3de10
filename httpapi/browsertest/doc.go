// Package browsertest loads the admin page of httpapi ([httpapi.NewAdmin])
// in a real headless Chromium, through chromedp, and checks what a person
// sees: the key is asked for once, the schedules and deliveries appear,
// and a button acts. It is a module of its own, so that chromedp never
// reaches the library's users.
//
//	go test ./httpapi/browsertest/...    # from the repository's root
//
// Without a Chromium (apt-get install -y chromium) the test skips with one
// line, unless TICKLER_REQUIRE_BROWSER=1, which makes that a failure.
// TICKLER_BROWSER_SCREENSHOT=file.png saves what the page showed.
package browsertest

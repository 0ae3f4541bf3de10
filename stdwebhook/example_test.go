package stdwebhook_test

import (
	"fmt"
	"net/http"
	"time"

	"github.com/tickler-go/tickler/stdwebhook"
)

func Example() {
	secret, err := stdwebhook.ParseSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		panic(err)
	}
	body := []byte(`{"test": 2432232314}`)
	sent := time.Unix(1614265330, 0)

	// The sender signs...
	h := http.Header{}
	secret.SetHeaders(h, "msg_p5jXN8AQM9LWM0D4loKWxJek", sent, body)
	fmt.Println(h.Get("webhook-signature"))

	// ...and the receiver checks, within five minutes of sending.
	fmt.Println(secret.Verify(h, body, sent.Add(time.Minute), 0))
	fmt.Println(secret.Verify(h, []byte(`{"test": 0}`), sent.Add(time.Minute), 0))
	// Output:
	// v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=
	// <nil>
	// stdwebhook: no matching signature
}

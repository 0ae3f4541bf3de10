// Command server is the short example of mounting tickler's HTTP API (Letta's
// scheduled agent messages routes) in a program of your own, with your own
// agent as the Deliverer. To run the server as it is, use the tickler binary
// instead ("go run ./cmd/tickler serve"), which adds configuration, the
// Letta, OpenAI-compatible and webhook deliverers, and health routes.
//
//	go run ./examples/server -addr 127.0.0.1:8283 -db ./tickler.db
package main

import (
	"context"
	"errors"
	"flag"
	"log"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/bolt"
	"github.com/tickler-go/tickler/callback"
	"github.com/tickler-go/tickler/httpapi"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8283", "address to listen on")
	db := flag.String("db", "./tickler.db", "bolt file holding the schedules")
	flag.Parse()
	if err := run(*addr, *db); err != nil {
		log.Fatal(err)
	}
}

// agent is where your program runs a scheduled message through its agent.
var agent = tickler.DelivererFunc(func(ctx context.Context, d *tickler.Delivery) (tickler.Result, error) {
	slog.Info("deliver", "agent_id", d.AgentID, "messages", len(d.Message.Messages), "key", d.IdempotencyKey)
	return tickler.Result{}, nil
})

func run(addr, db string) error {
	store, err := bolt.Open(db)
	if err != nil {
		return err
	}
	defer store.Close()
	cb := callback.New() // POSTs to each schedule's callback_url
	s, err := tickler.New(store, agent, tickler.WithEventHandler(cb.Handle))
	if err != nil {
		return err
	}
	if err := s.Start(context.Background()); err != nil {
		return err
	}
	// Without an API key the handler answers only loopback Host names; see
	// httpapi.WithAuthorizer.
	srv := &http.Server{Addr: addr, Handler: httpapi.New(s), ReadHeaderTimeout: 10 * time.Second}
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx) // stop taking requests, then stop firing, then flush callbacks
		_ = s.Stop(sctx)
		_ = cb.Close(sctx)
	}()
	slog.Info("listening", "url", "http://"+addr)
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	<-stopped // the store closes after the scheduler has stopped
	return nil
}

// Command quickstart schedules a few messages a second or two ahead on the
// real clock, prints each delivery as it happens, and exits.
//
//	go run ./examples/quickstart
package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/bolt"
)

func main() {
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

func run() error {
	dir, err := os.MkdirTemp("", "tickler-quickstart")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	// The durable store: a Create that returned survives a crash.
	store, err := bolt.Open(filepath.Join(dir, "tickler.db"))
	if err != nil {
		return err
	}
	defer store.Close()

	var wg sync.WaitGroup
	start := time.Now()
	deliverer := tickler.DelivererFunc(func(ctx context.Context, d *tickler.Delivery) (tickler.Result, error) {
		defer wg.Done()
		fmt.Printf("+%5dms  %s  %-7s %q  key=%s\n", time.Since(start).Milliseconds(), d.AgentID,
			d.Message.Messages[0].Role, d.Message.Messages[0].Content.Text, d.IdempotencyKey)
		return tickler.Result{}, nil
	})

	s, err := tickler.New(store, deliverer)
	if err != nil {
		return err
	}
	ctx := context.Background()
	if err := s.Start(ctx); err != nil {
		return err
	}
	defer s.Stop(ctx) // before store.Close: deferred calls run last-in first-out

	for i, text := range []string{"Good morning! Any plans?", "Time to stretch.", "Summarise today's notes."} {
		at := start.Add(time.Duration(700*(i+1)) * time.Millisecond)
		wg.Add(1)
		sm, err := s.Create(ctx, fmt.Sprintf("agent-%d", i%2+1), tickler.CreateRequest{
			Messages: []tickler.Message{{Role: tickler.RoleUser, Content: tickler.Text(text)}},
			Schedule: tickler.At(at),
		})
		if err != nil {
			return err
		}
		fmt.Printf("scheduled %s for %s\n", sm.ID, *tickler.FormatTime(sm.NextScheduledTime))
	}
	wg.Wait()
	fmt.Println("all delivered")
	return nil
}

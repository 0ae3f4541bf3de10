package bolt_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/bolt"
)

func ExampleOpen() {
	dir, err := os.MkdirTemp("", "tickler")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "tickler.db")

	st, err := bolt.Open(path, bolt.WithLockTimeout(time.Second))
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()

	delivered := make(chan string, 1)
	s, err := tickler.New(st, tickler.DelivererFunc(func(ctx context.Context, d *tickler.Delivery) (tickler.Result, error) {
		delivered <- d.Message.Messages[0].Content.Text
		return tickler.Result{}, nil
	}))
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	if err := s.Start(ctx); err != nil {
		log.Fatal(err)
	}
	defer s.Stop(ctx)

	// Once Create returns, the schedule is fsynced in the file: it fires
	// even if the process dies and restarts before it is due.
	_, err = s.Create(ctx, "agent-1", tickler.CreateRequest{
		Messages: []tickler.Message{{Role: tickler.RoleUser, Content: tickler.Text("stand up")}},
		Schedule: tickler.At(time.Now().Add(50 * time.Millisecond)),
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(<-delivered)

	// The file is locked while st has it open.
	_, err = bolt.Open(path, bolt.WithLockTimeout(10*time.Millisecond))
	fmt.Println(errors.Is(err, bolt.ErrLocked))
	// Output:
	// stand up
	// true
}

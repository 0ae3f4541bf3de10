package bolt_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/bolt"
	"github.com/tickler-go/tickler/storetest"
)

var ctx = context.Background()

// open opens a store in a new file of the test's temporary directory and
// closes it when the test ends.
func open(t testing.TB, opts ...bolt.Option) *bolt.Store {
	t.Helper()
	s, err := bolt.Open(filepath.Join(t.TempDir(), "tickler.db"), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) tickler.Store { return open(t) })
}

package postgres_test

import (
	"context"
	"testing"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/postgres"
	"github.com/tickler-go/tickler/storetest"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.RunWith(t, storetest.Config{
		New: func(t *testing.T) tickler.Store { return newStore(t, newSchema(t)) },
		Damage: func(t *testing.T, s tickler.Store, id string) {
			// A record written in a format this release does not know, as
			// a newer release would write it.
			err := postgres.Exec(context.Background(), s.(*postgres.Store),
				`UPDATE {schema}.schedules SET format = 99, record = '"?"' WHERE id = $1`, id)
			if err != nil {
				t.Fatal(err)
			}
		},
	})
}

package pgtest

import (
	"database/sql"
	"testing"
)

func TestStart(t *testing.T) {
	dsn := Start(t)
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow("SELECT 1").Scan(&n); err != nil || n != 1 {
		t.Fatalf("SELECT 1 = %d, %v", n, err)
	}
	if _, err := db.Exec("CREATE TABLE t (x int)"); err != nil {
		t.Fatal(err)
	}

	// A second database on the same server starts empty.
	other, err := sql.Open("pgx", CreateDatabase(t, dsn))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.Exec("CREATE TABLE t (x int)"); err != nil {
		t.Fatalf("second database not separate: %v", err)
	}
}

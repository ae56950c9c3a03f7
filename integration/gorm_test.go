package integration_test

import (
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gorm.io/driver/mysql"
	"gorm.io/driver/postgres"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/logger"
	"gorm.io/gorm/schema"
)

type GUser struct {
	ID        uint
	Name      string
	Email     string `gorm:"size:100;uniqueIndex"`
	Age       int
	Orders    []GOrder `gorm:"foreignKey:UserID"`
	Profile   GProfile `gorm:"foreignKey:UserID"`
	Tags      []GTag   `gorm:"many2many:user_tags"`
	CreatedAt time.Time
	UpdatedAt time.Time
	DeletedAt gorm.DeletedAt `gorm:"index"`
}

type GOrder struct {
	ID     uint
	UserID uint
	Item   string
	Amount int64
}

type GProfile struct {
	ID     uint
	UserID uint
	Bio    string
}

type GTag struct {
	ID   uint
	Name string `gorm:"size:50"`
}

// GAudit rows are written by GUser's hooks, inside GORM's transaction.
type GAudit struct {
	ID     uint
	UserID uint
	Action string
}

// BeforeSave trims the name: a hook that changes what is written.
func (u *GUser) BeforeSave(tx *gorm.DB) error {
	u.Name = strings.TrimSpace(u.Name)
	return nil
}

// AfterCreate and AfterUpdate write another table from inside the write's transaction.
func (u *GUser) AfterCreate(tx *gorm.DB) error {
	return tx.Create(&GAudit{UserID: u.ID, Action: "create"}).Error
}

func (u *GUser) AfterUpdate(tx *gorm.DB) error {
	return tx.Create(&GAudit{UserID: u.ID, Action: "update"}).Error
}

var gormModels = []any{&GUser{}, &GOrder{}, &GProfile{}, &GTag{}, &GAudit{}}

type gormTarget struct {
	name    string
	require func(testing.TB)
	// open returns the dialector for one way of reaching cachedsql.
	byName func(t testing.TB) gorm.Dialector // DriverName registered with cachedsql.Register
	byConn func(t testing.TB) gorm.Dialector // an existing *sql.DB from sql.Open("cachedsql", ...)
}

func gormTargets() []gormTarget {
	registerCached()
	myDSN := withParams(mysqlDSN(), "parseTime=true")
	sqliteDSN := func(t testing.TB) string {
		return "file:" + filepath.Join(t.TempDir(), "gorm.db") + "?_busy_timeout=5000&_journal_mode=WAL&_fk=1"
	}
	return []gormTarget{
		{
			name: "SQLite", require: func(testing.TB) {},
			byName: func(t testing.TB) gorm.Dialector {
				return &sqlite.Dialector{DriverName: cachedSQLite, DSN: sqliteDSN(t)}
			},
			byConn: func(t testing.TB) gorm.Dialector {
				return sqlite.New(sqlite.Config{Conn: openCached(t, "sqlite3", sqliteDSN(t))})
			},
		},
		{
			name: "PostgreSQL", require: requirePG,
			byName: func(testing.TB) gorm.Dialector {
				return postgres.New(postgres.Config{DriverName: cachedPgx, DSN: pgURL()})
			},
			byConn: func(t testing.TB) gorm.Dialector {
				return postgres.New(postgres.Config{Conn: openCached(t, "pgx", pgURL())})
			},
		},
		{
			name: "MariaDB", require: requireMySQL,
			byName: func(testing.TB) gorm.Dialector {
				return mysql.New(mysql.Config{DriverName: cachedMySQL, DSN: myDSN})
			},
			byConn: func(t testing.TB) gorm.Dialector {
				return mysql.New(mysql.Config{Conn: openCached(t, "mysql", myDSN)})
			},
		},
	}
}

func TestGORM(t *testing.T) {
	for _, tg := range gormTargets() {
		t.Run(tg.name, func(t *testing.T) {
			tg.require(t)
			ways := []struct {
				name    string
				dial    func(testing.TB) gorm.Dialector
				prepare bool
			}{
				{"DriverName", tg.byName, false},
				{"Conn", tg.byConn, false},
				{"Conn PrepareStmt", tg.byConn, true},
			}
			for i, w := range ways {
				t.Run(w.name, func(t *testing.T) {
					prefix := fmt.Sprintf("%s_g%d_", runID, i)
					db, err := gorm.Open(w.dial(t), &gorm.Config{
						Logger:         logger.Default.LogMode(logger.Silent),
						NamingStrategy: schema.NamingStrategy{TablePrefix: prefix},
						PrepareStmt:    w.prepare,
					})
					if err != nil {
						t.Fatalf("gorm.Open: %v", err)
					}
					sqlDB, err := db.DB()
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { sqlDB.Close() })
					if err := db.AutoMigrate(gormModels...); err != nil {
						t.Fatalf("AutoMigrate: %v", err)
					}
					t.Cleanup(func() {
						db.Migrator().DropTable(append([]any{prefix + "user_tags"}, gormModels...)...)
					})
					gormSuite(t, db, sqlDB)
				})
			}
		})
	}
}

// cachedRead runs read once to fill the cache, then again, and fails unless
// the second run was served from the cache alone. check sees each result.
func cachedRead(t *testing.T, sqlDB *sql.DB, what string, read func() error) {
	t.Helper()
	if err := read(); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	h := countHits(t, sqlDB)
	if err := read(); err != nil {
		t.Fatalf("%s (repeated): %v", what, err)
	}
	if hits, fills := h.delta(); hits == 0 || fills != 0 {
		t.Errorf("%s repeated: %d L1 hits and %d fills, want every query served from the cache", what, hits, fills)
	}
}

func gormSuite(t *testing.T, db *gorm.DB, sqlDB *sql.DB) {
	// Create with associations; BeforeSave and AfterCreate hooks run.
	u := GUser{Name: "  Ann  ", Email: "ann@example.com", Age: 30,
		Orders:  []GOrder{{Item: "book", Amount: 12}, {Item: "pen", Amount: 2}},
		Profile: GProfile{Bio: "reader"},
		Tags:    []GTag{{Name: "vip"}},
	}
	if err := db.Create(&u).Error; err != nil {
		t.Fatalf("Create: %v", err)
	}
	if u.ID == 0 || u.Name != "Ann" {
		t.Fatalf("after Create: ID %d, Name %q (BeforeSave trims)", u.ID, u.Name)
	}

	var got GUser
	first := func() error { got = GUser{}; return db.First(&got, u.ID).Error }
	cachedRead(t, sqlDB, "First", first)
	if got.Name != "Ann" || got.Age != 30 {
		t.Errorf("First: %+v", got)
	}

	// Preload: has many, has one, many to many.
	preload := func() error {
		got = GUser{}
		return db.Preload("Orders").Preload("Profile").Preload("Tags").First(&got, u.ID).Error
	}
	cachedRead(t, sqlDB, "Preload", preload)
	if len(got.Orders) != 2 || got.Profile.Bio != "reader" || len(got.Tags) != 1 {
		t.Errorf("Preload: %d orders, profile %q, %d tags", len(got.Orders), got.Profile.Bio, len(got.Tags))
	}

	var audits int64
	countAudits := func() error { return db.Model(&GAudit{}).Where("user_id = ?", u.ID).Count(&audits).Error }
	cachedRead(t, sqlDB, "Count audits", countAudits)
	if audits != 1 {
		t.Errorf("%d audit rows after Create, want 1 (AfterCreate hook)", audits)
	}

	// Update: the cached First, Preload and audit Count must all see it.
	if err := db.Model(&u).Update("age", 31).Error; err != nil {
		t.Fatalf("Update: %v", err)
	}
	if first(); got.Age != 31 {
		t.Errorf("First after Update: age %d, want 31 (stale)", got.Age)
	}
	if countAudits(); audits != 2 {
		t.Errorf("%d audit rows after Update, want 2: the AfterUpdate hook's insert was not seen (stale)", audits)
	}
	if err := db.Model(&u).Updates(GUser{Name: "Anna", Email: "anna@example.com"}).Error; err != nil {
		t.Fatalf("Updates: %v", err)
	}
	if first(); got.Name != "Anna" || got.Email != "anna@example.com" {
		t.Errorf("First after Updates: %q %q (stale)", got.Name, got.Email)
	}
	cachedRead(t, sqlDB, "First after Updates", first)

	// Associations: Append, Replace, Count.
	if err := db.Model(&u).Association("Orders").Append(&GOrder{Item: "ink", Amount: 5}); err != nil {
		t.Fatalf("Append: %v", err)
	}
	if preload(); len(got.Orders) != 3 {
		t.Errorf("Preload after Append: %d orders, want 3 (stale)", len(got.Orders))
	}
	cachedRead(t, sqlDB, "Preload after Append", preload)
	if err := db.Model(&u).Association("Tags").Replace(&GTag{Name: "new"}, &GTag{Name: "newer"}); err != nil {
		t.Fatalf("Replace: %v", err)
	}
	if preload(); len(got.Tags) != 2 || got.Tags[0].Name != "new" {
		t.Errorf("Preload after Replace: tags %+v (stale)", got.Tags)
	}
	if n := db.Model(&u).Association("Orders").Count(); n != 3 {
		t.Errorf("Association Count %d, want 3", n)
	}

	// Raw SQL, read and written.
	users := tableName(t, db, &GUser{})
	var name string
	raw := func() error { return db.Raw("SELECT name FROM "+users+" WHERE id = ?", u.ID).Scan(&name).Error }
	cachedRead(t, sqlDB, "Raw", raw)
	if err := db.Exec("UPDATE "+users+" SET name = ? WHERE id = ?", "Zed", u.ID).Error; err != nil {
		t.Fatalf("Exec: %v", err)
	}
	if raw(); name != "Zed" {
		t.Errorf("Raw after Exec: %q, want Zed (stale)", name)
	}
	var names []string
	if err := db.Model(&GUser{}).Pluck("name", &names).Error; err != nil || len(names) != 1 || names[0] != "Zed" {
		t.Errorf("Pluck after Exec: %v %v (stale)", names, err)
	}

	// Transactions: reads inside go to the database and see the transaction's
	// own writes; a nested transaction (a SAVEPOINT) rolled back leaves nothing;
	// after the commit every cached read sees the committed rows.
	var n int64
	count := func() error { return db.Model(&GUser{}).Count(&n).Error }
	var byName GUser
	findBob := func() error { byName = GUser{}; return db.Where("name = ?", "Bob").Limit(1).Find(&byName).Error }
	cachedRead(t, sqlDB, "Count", count)
	cachedRead(t, sqlDB, "Find Bob (empty result)", findBob)
	if n != 1 || byName.ID != 0 {
		t.Fatalf("before the transaction: count %d, Bob %d", n, byName.ID)
	}
	errRollback := errors.New("roll back the nested transaction")
	before := stats(t, sqlDB)
	err := db.Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(&GUser{Name: "Bob", Email: "bob@example.com"}).Error; err != nil {
			return err
		}
		var in int64
		if err := tx.Model(&GUser{}).Count(&in).Error; err != nil || in != 2 {
			return fmt.Errorf("count inside the transaction: %d, %v (want 2: its own write)", in, err)
		}
		nested := tx.Transaction(func(tx2 *gorm.DB) error {
			if err := tx2.Create(&GUser{Name: "Carl", Email: "carl@example.com"}).Error; err != nil {
				return err
			}
			return errRollback
		})
		if !errors.Is(nested, errRollback) {
			return fmt.Errorf("nested transaction: %v", nested)
		}
		if err := tx.Model(&GUser{}).Count(&in).Error; err != nil || in != 2 {
			return fmt.Errorf("count after the nested rollback: %d, %v (want 2)", in, err)
		}
		return tx.Transaction(func(tx2 *gorm.DB) error { // a nested transaction that commits
			return tx2.Model(&GUser{}).Where("name = ?", "Bob").Update("age", 40).Error
		})
	})
	if err != nil {
		t.Fatalf("Transaction: %v", err)
	}
	if d := stats(t, sqlDB).Bypass["tx"] - before.Bypass["tx"]; d == 0 {
		t.Errorf("no read inside the transaction bypassed the cache")
	}
	if count(); n != 2 {
		t.Errorf("Count after commit: %d, want 2 (stale)", n)
	}
	if findBob(); byName.ID == 0 || byName.Age != 40 {
		t.Errorf("Find Bob after commit: %+v, want the committed row with age 40 (stale)", byName)
	}
	var carl int64
	if db.Model(&GUser{}).Where("name = ?", "Carl").Count(&carl); carl != 0 {
		t.Errorf("the rolled-back nested transaction's row is visible")
	}

	// A transaction rolled back as a whole changes nothing.
	cachedRead(t, sqlDB, "Find Bob", findBob)
	err = db.Transaction(func(tx *gorm.DB) error {
		if err := tx.Model(&GUser{}).Where("name = ?", "Bob").Update("age", 99).Error; err != nil {
			return err
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatalf("Transaction: %v", err)
	}
	if findBob(); byName.Age != 40 {
		t.Errorf("Find Bob after rollback: age %d, want 40", byName.Age)
	}

	// Manual transaction with a named savepoint.
	tx := db.Begin()
	tx.Model(&GUser{}).Where("name = ?", "Bob").Update("age", 41)
	tx.SavePoint("sp1")
	tx.Model(&GUser{}).Where("name = ?", "Bob").Update("age", 42)
	tx.RollbackTo("sp1")
	if err := tx.Commit().Error; err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if findBob(); byName.Age != 41 {
		t.Errorf("Find Bob after savepoint rollback and commit: age %d, want 41", byName.Age)
	}

	// Delete: soft, then for real.
	cachedRead(t, sqlDB, "First", first)
	if err := db.Delete(&u).Error; err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if err := first(); !errors.Is(err, gorm.ErrRecordNotFound) {
		t.Errorf("First after soft Delete: %v, want ErrRecordNotFound (stale)", err)
	}
	var ghost GUser
	unscoped := func() error { ghost = GUser{}; return db.Unscoped().First(&ghost, u.ID).Error }
	cachedRead(t, sqlDB, "Unscoped First", unscoped)
	if !ghost.DeletedAt.Valid {
		t.Errorf("Unscoped First after soft Delete: DeletedAt not set")
	}
	if err := db.Unscoped().Select(clause.Associations).Delete(&GUser{ID: u.ID}).Error; err != nil {
		t.Fatalf("Unscoped Delete: %v", err)
	}
	if err := unscoped(); !errors.Is(err, gorm.ErrRecordNotFound) {
		t.Errorf("Unscoped First after hard Delete: %v, want ErrRecordNotFound (stale)", err)
	}
}

func tableName(t *testing.T, db *gorm.DB, model any) string {
	t.Helper()
	st := &gorm.Statement{DB: db}
	if err := st.Parse(model); err != nil {
		t.Fatal(err)
	}
	return st.Schema.Table
}

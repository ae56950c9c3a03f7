package cachedsql

import (
	"context"
	"database/sql/driver"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"

	"github.com/cachedsql/cachedsql/sqlscan"
)

// PostgreSQL's partitions and inherited tables share rows with the tables
// above and below them: a write to a partition changes reads of its parent,
// and a write to a parent (routed to a partition, or reaching its children)
// changes reads of them, though neither statement names the other table.
// On PostgreSQL a write therefore also invalidates every ancestor and
// descendant of each table it writes, as the catalog (pg_inherits) says.
//
// The catalog is read, always on a connection of its own, when the
// Connector opens its first connection and by a write that finds no
// reading, and read again when the last reading is older than
// hierarchyMaxAge; after an ALTER or CREATE that may link two tables
// (reshapes; made here: made elsewhere, within hierarchyMaxAge); or when a
// write names a table the last
// reading did not list (one created since, such as a new partition) unless
// a reading found it missing less than hierarchyRetry ago (a table that a
// failed statement named, say). Only writes consult it: a reading process
// need not, since the writer moves the generations its keys hold.

// hierarchyMaxAge is how long a reading of the catalog serves writes of
// tables it lists; hierarchyRetry is how long a table a reading did not
// list, or a reading that failed, holds back the next one.
var (
	hierarchyMaxAge = time.Minute
	hierarchyRetry  = time.Second
)

// hierarchyTimeout bounds one reading of the catalog.
const hierarchyTimeout = 2 * time.Second

// hierarchyQuery lists every relation a statement can write or read, with
// the table it inherits from (NULL for none): one row per parent.
const hierarchyQuery = `SELECT c.relname, p.relname FROM pg_catalog.pg_class c
LEFT JOIN pg_catalog.pg_inherits i ON i.inhrelid = c.oid
LEFT JOIN pg_catalog.pg_class p ON p.oid = i.inhparent
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')`

// tableTree is one reading of the catalog, by the names the scanner files
// tables under (case folded; a schema does not count, so two schemas' tables
// of one name are one: more invalidation, never less).
type tableTree struct {
	at    time.Time
	known map[string]bool // every relation listed
	// real is each table's kin as this reading lists it (ancestors and
	// descendants, see readTreeOn); kin is what writes reach: real, and the
	// kin the reading before listed (keep).
	real, kin map[string][]string
}

// keep makes t's kin its own and, for every table, the kin prev listed:
// links that changed since prev (a partition dropped, detached, or made
// again under another parent, by a write this reading may have come after)
// still reach the tables they joined until the next reading. Only prev's
// own listing is carried, so kin never grows past two readings' worth.
func (t *tableTree) keep(prev *tableTree) {
	t.kin = make(map[string][]string, len(t.real))
	for x, k := range t.real {
		t.kin[x] = k
	}
	if prev == nil {
		return
	}
	for x, old := range prev.real {
		k := t.kin[x]
		for _, y := range old {
			if !slices.Contains(k, y) {
				k = append(slices.Clip(k), y)
			}
		}
		t.kin[x] = k
	}
}

// hierarchy holds the connector's latest reading of the catalog.
type hierarchy struct {
	tree atomic.Pointer[tableTree]
	// reshaped: a statement that may have linked two tables (reshapes) has
	// taken effect since the last reading began.
	reshaped atomic.Bool
	mu       sync.Mutex           // one reading at a time; guards absent and failed
	absent   map[string]time.Time // tables a reading did not list, and when it began
	failed   time.Time            // when the last reading that failed began
}

// reshape marks the last reading out of date: a statement that may have
// attached a partition or made a table inherit has taken effect (run, or
// committed). A reading under way clears the mark as it begins, so either
// it sees the statement or the mark stays for the next.
func (h *hierarchy) reshape() { h.reshaped.Store(true) }

// reshapes reports a PostgreSQL text that may link two tables, or give a
// linked table a name the last reading knew unlinked: one that says ALTER
// TABLE or CREATE TABLE, and ATTACH PARTITION, DETACH PARTITION, PARTITION
// OF, INHERIT(S) or RENAME, anywhere (a migration sent as one text: "BEGIN;
// ALTER TABLE ... ATTACH PARTITION ...; COMMIT", "DROP TABLE x; CREATE
// TABLE x PARTITION OF p ..."). A table created so may have a name the
// last reading lists (one dropped and made again as a partition), or one it
// found missing a moment before (a partition created after an insert into
// it failed; an uncertain transaction's writes, which count before the
// commit makes the table visible). Words, not text, so that PARTITION BY
// in a window or a column named attachments does not count; each text that
// counts costs one reading of the catalog.
func reshapes(query string) bool {
	words := strings.FieldsFunc(strings.ToLower(query), func(r rune) bool {
		return r != '_' && r != '$' && !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
	// The words ALTER or CREATE, and TABLE, anywhere: not a write of
	// columns named create and inherit. Words in comments and strings count
	// too, which can only cost a reading, never hide a statement.
	verb, table, links := false, false, false
	for i, w := range words {
		next := ""
		if i+1 < len(words) {
			next = words[i+1]
		}
		switch {
		case w == "alter" || w == "create":
			verb = true
		case w == "table":
			table = true
		case w == "inherit" || w == "inherits" || w == "rename",
			(w == "attach" || w == "detach") && next == "partition",
			w == "partition" && next == "of":
			links = true
		}
	}
	return verb && table && links
}

// withKin returns tables with every ancestor and descendant of each added,
// reading the catalog first where the last reading is missing, too old, or
// does not list one of them. A reading that fails leaves tables as they are
// (logged): writes then invalidate what they name, as before.
func (c *Connector) withKin(ctx context.Context, tables []string) []string {
	if c.dialect != sqlscan.Postgres || len(tables) == 0 {
		return tables
	}
	start := time.Now() // the write has run: a reading begun since saw it
	h := &c.kin
	t := h.tree.Load()
	if t == nil || h.reshaped.Load() || start.Sub(t.at) > hierarchyMaxAge || !t.lists(tables) {
		t = c.readKin(ctx, tables, start)
	}
	if t == nil {
		return tables
	}
	return addLinks(tables, t.kin)
}

// readKin reads the catalog again if a write of tables that had run by
// start needs it, and returns the latest reading.
func (c *Connector) readKin(ctx context.Context, tables []string, start time.Time) *tableTree {
	h := &c.kin
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.stale(tables, start) || start.Sub(h.failed) < hierarchyRetry {
		return h.tree.Load()
	}
	was := h.reshaped.Swap(false) // what took effect before now, this reading sees
	t, err := c.readTree(ctx)
	if err != nil {
		h.failed = start
		if was {
			h.reshaped.Store(true)
		}
		c.log.Warn("cachedsql: could not read PostgreSQL's partitions and inherited tables; a write invalidates only the tables it names until a later reading succeeds",
			"err", redactErr(err, c.cfg.DSN))
		return h.tree.Load()
	}
	// Kept for hierarchyRetry across readings, so that writes naming two
	// missing tables in turn do not read the catalog every time.
	for x, at := range h.absent {
		if t.known[x] || t.at.Sub(at) >= hierarchyRetry {
			delete(h.absent, x)
		}
	}
	if h.absent == nil {
		h.absent = map[string]time.Time{}
	}
	for _, x := range tables {
		if !t.known[x] {
			h.absent[x] = t.at
		}
	}
	t.keep(h.tree.Load())
	h.tree.Store(t)
	return t
}

// stale reports whether the catalog must be read again for a write of
// tables that had run by start.
func (h *hierarchy) stale(tables []string, start time.Time) bool {
	t := h.tree.Load()
	switch {
	case t == nil || h.reshaped.Load() || start.Sub(t.at) > hierarchyMaxAge:
		return true
	case !t.at.Before(start):
		return false // read after the write: it lists what the write made
	}
	for _, x := range tables {
		if t.known[x] {
			continue
		}
		if at, ok := h.absent[x]; ok && start.Sub(at) < hierarchyRetry {
			continue
		}
		return true
	}
	return false
}

func (t *tableTree) lists(tables []string) bool {
	for _, x := range tables {
		if !t.known[x] {
			return false
		}
	}
	return true
}

// readTree reads the catalog on a connection of its own, so that it runs in
// no transaction of the program's.
func (c *Connector) readTree(ctx context.Context) (*tableTree, error) {
	// The write has run: its reading need not end with its caller.
	return c.readTreeWithin(context.WithoutCancel(ctx))
}

// readTreeWithin is readTree within ctx and hierarchyTimeout.
func (c *Connector) readTreeWithin(ctx context.Context) (*tableTree, error) {
	ctx, cancel := context.WithTimeout(ctx, hierarchyTimeout)
	defer cancel()
	ic, err := c.inner.Connect(ctx)
	if err != nil {
		return nil, err
	}
	defer ic.Close()
	return c.readTreeOn(ctx, ic)
}

// readKinAtConnect reads the catalog, on a connection of its own, when a
// connection is opened and no reading has been made yet: so that the
// Connector's first write has one from before it ran (a partition it drops
// is gone from a reading made after). Connections opened meanwhile wait for
// it (hierarchyTimeout at most); after a reading that failed (not one whose
// caller left), none is tried for hierarchyRetry, so that a catalog slow to answer
// (locked by a VACUUM FULL) delays one Connect a second at most. The
// connection handed out is never the one that timed out. A failure is
// logged; a later write reads the catalog itself.
func (c *Connector) readKinAtConnect(ctx context.Context) {
	h := &c.kin
	if h.tree.Load() != nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	now := time.Now()
	if h.tree.Load() != nil || now.Sub(h.failed) < hierarchyRetry {
		return
	}
	t, err := c.readTreeWithin(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return // its caller left: the next Connect or write tries again
		}
		h.failed = now
		c.log.Warn("cachedsql: could not read PostgreSQL's partitions and inherited tables; writes in the next second reach only the tables they name, and a later write reads them again",
			"err", redactErr(err, c.cfg.DSN))
		return
	}
	t.keep(nil)
	h.tree.Store(t)
}

// readTreeOn reads the catalog on ic.
func (c *Connector) readTreeOn(ctx context.Context, ic driver.Conn) (*tableTree, error) {
	t := &tableTree{at: time.Now(), known: map[string]bool{}, real: map[string][]string{}}
	parents := map[string][]string{}
	children := map[string][]string{}
	err := queryEach(ctx, ic, hierarchyQuery, 2, func(v []driver.Value) bool {
		name := sqlscan.TableName(c.dialect, rawText(v[0]))
		t.known[name] = true
		if v[1] != nil {
			parent := sqlscan.TableName(c.dialect, rawText(v[1]))
			parents[name] = append(parents[name], parent)
			children[parent] = append(children[parent], name)
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	// A write to a table reaches rows of it and of its descendants, and a
	// read of a table sees rows of it and of its descendants: so a table's
	// kin is its descendants, and the ancestors of it and of each of them
	// (a child of two parents shows its rows in both). Not a sibling
	// partition: it shares no rows.
	// seen keeps the walks linear in the hierarchy's size (a parent of
	// thousands of partitions).
	seen := map[string]bool{}
	walk := func(from string, next map[string][]string, into []string) []string {
		for i, todo := 0, []string{from}; i < len(todo); i++ {
			for _, n := range next[todo[i]] {
				if !seen[n] {
					seen[n] = true
					into = append(into, n)
					todo = append(todo, n)
				}
			}
		}
		return into
	}
	for name := range t.known {
		if len(parents[name]) == 0 && len(children[name]) == 0 {
			continue
		}
		clear(seen)
		down := walk(name, children, nil)
		k := walk(name, parents, slices.Clone(down))
		for _, d := range down {
			k = walk(d, parents, k)
		}
		t.real[name] = slices.DeleteFunc(k, func(x string) bool { return x == name })
	}
	return t, nil
}

// rawText is a catalog name as the driver returned it. Not valueText,
// which lower-cases first: sqlscan.TableName cuts a long name before it
// lower-cases, as the scanner files the names it reads, and lower-casing
// can change a name's length.
func rawText(v driver.Value) string {
	switch v := v.(type) {
	case string:
		return v
	case []byte:
		return string(v)
	}
	return ""
}

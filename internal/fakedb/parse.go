package fakedb

import (
	"database/sql/driver"
	"fmt"
	"strconv"
	"strings"
)

// The statement forms are recognised by a tokenizer and a matcher per form;
// anything else is ErrUnsupported. This is deliberately not a SQL parser.

type tokKind int

const (
	tokIdent tokKind = iota
	tokNumber
	tokString
	tokPunct
	tokArg // ?, $N, :name, @name
)

type token struct {
	kind tokKind
	text string // identifier, literal text (unquoted), punctuation, or arg name
	n    int    // $N ordinal; 0 for ? and named args
}

func tokenize(s string) ([]token, error) {
	var toks []token
	isIdent := func(c byte, first bool) bool {
		return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || !first && c >= '0' && c <= '9'
	}
	isDigit := func(c byte) bool { return c >= '0' && c <= '9' }
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case strings.HasPrefix(s[i:], "--"):
			j := strings.IndexByte(s[i:], '\n')
			if j < 0 {
				return toks, nil
			}
			i += j + 1
		case strings.HasPrefix(s[i:], "/*"):
			j := strings.Index(s[i+2:], "*/")
			if j < 0 {
				return nil, fmt.Errorf("unterminated comment at offset %d", i)
			}
			i += j + 4
		case isIdent(c, true):
			j := i + 1
			for j < len(s) && isIdent(s[j], false) {
				j++
			}
			toks = append(toks, token{kind: tokIdent, text: s[i:j]})
			i = j
		case c == '"':
			j := strings.IndexByte(s[i+1:], '"')
			if j < 0 {
				return nil, fmt.Errorf("unterminated quoted identifier at offset %d", i)
			}
			toks = append(toks, token{kind: tokIdent, text: s[i+1 : i+1+j]})
			i += j + 2
		case isDigit(c) || c == '-' && i+1 < len(s) && isDigit(s[i+1]):
			j := i + 1
			for j < len(s) && (isDigit(s[j]) || s[j] == '.') {
				j++
			}
			toks = append(toks, token{kind: tokNumber, text: s[i:j]})
			i = j
		case c == '\'':
			var b strings.Builder
			j := i + 1
			for {
				if j >= len(s) {
					return nil, fmt.Errorf("unterminated string at offset %d", i)
				}
				if s[j] == '\'' {
					if j+1 < len(s) && s[j+1] == '\'' {
						b.WriteByte('\'')
						j += 2
						continue
					}
					break
				}
				b.WriteByte(s[j])
				j++
			}
			toks = append(toks, token{kind: tokString, text: b.String()})
			i = j + 1
		case c == '?':
			toks = append(toks, token{kind: tokArg})
			i++
		case c == '$':
			j := i + 1
			for j < len(s) && isDigit(s[j]) {
				j++
			}
			n, err := strconv.Atoi(s[i+1 : j])
			if err != nil || n < 1 || n > 1<<16 {
				return nil, fmt.Errorf("bad placeholder %q at offset %d", s[i:j], i)
			}
			toks = append(toks, token{kind: tokArg, n: n})
			i = j
		case c == ':' || c == '@':
			j := i + 1
			for j < len(s) && isIdent(s[j], j == i+1) {
				j++
			}
			if j == i+1 {
				return nil, fmt.Errorf("bad named placeholder at offset %d", i)
			}
			toks = append(toks, token{kind: tokArg, text: s[i+1 : j]})
			i = j
		case strings.IndexByte("(),=*;", c) >= 0:
			toks = append(toks, token{kind: tokPunct, text: s[i : i+1]})
			i++
		default:
			return nil, fmt.Errorf("unexpected character %q at offset %d", c, i)
		}
	}
	return toks, nil
}

type planKind int

const (
	planSelect planKind = iota
	planInsert
	planUpdate
	planDelete
)

// operand is a literal or a reference to an argument.
type operand struct {
	isArg   bool
	ordinal int    // 1-based, for ? and $N
	name    string // for :name and @name
	lit     driver.Value
}

type assign struct {
	col string
	val operand
}

type plan struct {
	kind   planKind
	table  string
	cols   []string // SELECT list or INSERT column list; nil means every column
	where  *assign  // WHERE col = val
	sets   []assign
	tuples [][]operand
	// returning is the RETURNING list; nil with hasReturning means *.
	returning    []string
	hasReturning bool
	numInput     int // for driver.Stmt.NumInput; -1 when named args are used
}

type parser struct {
	toks     []token
	pos      int
	nextQ    int // ordinal of the next ?
	maxOrd   int
	hasNamed bool
}

func parse(query string) (*plan, error) {
	toks, err := tokenize(query)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnsupported, err)
	}
	p := &parser{toks: toks}
	pl, err := p.statement()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnsupported, err)
	}
	pl.numInput = p.maxOrd
	if p.hasNamed {
		pl.numInput = -1
	}
	return pl, nil
}

func (p *parser) peek() (token, bool) {
	if p.pos >= len(p.toks) {
		return token{}, false
	}
	return p.toks[p.pos], true
}

func (p *parser) keyword(kw string) bool {
	t, ok := p.peek()
	if ok && t.kind == tokIdent && strings.EqualFold(t.text, kw) {
		p.pos++
		return true
	}
	return false
}

func (p *parser) punct(s string) bool {
	t, ok := p.peek()
	if ok && t.kind == tokPunct && t.text == s {
		p.pos++
		return true
	}
	return false
}

func (p *parser) want(what string, ok bool) error {
	if ok {
		return nil
	}
	if t, more := p.peek(); more {
		return fmt.Errorf("want %s at token %d (%q)", what, p.pos, t.text)
	}
	return fmt.Errorf("want %s at end of statement", what)
}

func (p *parser) ident() (string, error) {
	t, ok := p.peek()
	if !ok || t.kind != tokIdent {
		return "", p.want("a name", false)
	}
	p.pos++
	return t.text, nil
}

func (p *parser) identList() ([]string, error) {
	var out []string
	for {
		id, err := p.ident()
		if err != nil {
			return nil, err
		}
		out = append(out, id)
		if !p.punct(",") {
			return out, nil
		}
	}
}

// columns parses "*" (nil) or a list of names.
func (p *parser) columns() ([]string, error) {
	if p.punct("*") {
		return nil, nil
	}
	return p.identList()
}

func (p *parser) operand() (operand, error) {
	t, ok := p.peek()
	if !ok {
		return operand{}, p.want("a value", false)
	}
	switch t.kind {
	case tokArg:
		p.pos++
		switch {
		case t.text != "":
			p.hasNamed = true
			return operand{isArg: true, name: t.text}, nil
		case t.n > 0:
			p.maxOrd = max(p.maxOrd, t.n)
			return operand{isArg: true, ordinal: t.n}, nil
		default:
			p.nextQ++
			p.maxOrd = max(p.maxOrd, p.nextQ)
			return operand{isArg: true, ordinal: p.nextQ}, nil
		}
	case tokNumber:
		p.pos++
		if i, err := strconv.ParseInt(t.text, 10, 64); err == nil {
			return operand{lit: i}, nil
		}
		f, err := strconv.ParseFloat(t.text, 64)
		if err != nil {
			return operand{}, fmt.Errorf("bad number %q", t.text)
		}
		return operand{lit: f}, nil
	case tokString:
		p.pos++
		return operand{lit: t.text}, nil
	case tokIdent:
		switch {
		case strings.EqualFold(t.text, "NULL"):
			p.pos++
			return operand{lit: nil}, nil
		case strings.EqualFold(t.text, "TRUE"):
			p.pos++
			return operand{lit: true}, nil
		case strings.EqualFold(t.text, "FALSE"):
			p.pos++
			return operand{lit: false}, nil
		}
	}
	return operand{}, p.want("a value", false)
}

func (p *parser) assignment() (assign, error) {
	col, err := p.ident()
	if err != nil {
		return assign{}, err
	}
	if err := p.want("=", p.punct("=")); err != nil {
		return assign{}, err
	}
	v, err := p.operand()
	return assign{col: col, val: v}, err
}

func (p *parser) where(pl *plan) error {
	if !p.keyword("WHERE") {
		return nil
	}
	a, err := p.assignment()
	pl.where = &a
	return err
}

func (p *parser) returning(pl *plan) error {
	if !p.keyword("RETURNING") {
		return nil
	}
	pl.hasReturning = true
	var err error
	pl.returning, err = p.columns()
	return err
}

func (p *parser) end() error {
	p.punct(";")
	return p.want("end of statement", p.pos == len(p.toks))
}

func (p *parser) statement() (*plan, error) {
	pl := &plan{}
	var err error
	switch {
	case p.keyword("SELECT"):
		pl.kind = planSelect
		if pl.cols, err = p.columns(); err != nil {
			return nil, err
		}
		if err = p.want("FROM", p.keyword("FROM")); err != nil {
			return nil, err
		}
		if pl.table, err = p.ident(); err != nil {
			return nil, err
		}
		if err = p.where(pl); err != nil {
			return nil, err
		}
	case p.keyword("INSERT"):
		pl.kind = planInsert
		if err = p.want("INTO", p.keyword("INTO")); err != nil {
			return nil, err
		}
		if pl.table, err = p.ident(); err != nil {
			return nil, err
		}
		if p.punct("(") {
			if pl.cols, err = p.identList(); err != nil {
				return nil, err
			}
			if err = p.want(")", p.punct(")")); err != nil {
				return nil, err
			}
		}
		if err = p.want("VALUES", p.keyword("VALUES")); err != nil {
			return nil, err
		}
		for {
			if err = p.want("(", p.punct("(")); err != nil {
				return nil, err
			}
			var tuple []operand
			for {
				v, err := p.operand()
				if err != nil {
					return nil, err
				}
				tuple = append(tuple, v)
				if !p.punct(",") {
					break
				}
			}
			if err = p.want(")", p.punct(")")); err != nil {
				return nil, err
			}
			if pl.cols != nil && len(tuple) != len(pl.cols) {
				return nil, fmt.Errorf("%d values for %d columns", len(tuple), len(pl.cols))
			}
			pl.tuples = append(pl.tuples, tuple)
			if !p.punct(",") {
				break
			}
		}
		if err = p.returning(pl); err != nil {
			return nil, err
		}
	case p.keyword("UPDATE"):
		pl.kind = planUpdate
		if pl.table, err = p.ident(); err != nil {
			return nil, err
		}
		if err = p.want("SET", p.keyword("SET")); err != nil {
			return nil, err
		}
		for {
			a, err := p.assignment()
			if err != nil {
				return nil, err
			}
			pl.sets = append(pl.sets, a)
			if !p.punct(",") {
				break
			}
		}
		if err = p.where(pl); err != nil {
			return nil, err
		}
		if err = p.returning(pl); err != nil {
			return nil, err
		}
	case p.keyword("DELETE"):
		pl.kind = planDelete
		if err = p.want("FROM", p.keyword("FROM")); err != nil {
			return nil, err
		}
		if pl.table, err = p.ident(); err != nil {
			return nil, err
		}
		if err = p.where(pl); err != nil {
			return nil, err
		}
		if err = p.returning(pl); err != nil {
			return nil, err
		}
	default:
		return nil, p.want("SELECT, INSERT, UPDATE or DELETE", false)
	}
	if err = p.end(); err != nil {
		return nil, err
	}
	return pl, nil
}

// bind returns the value of o given the statement's arguments.
func (o operand) bind(args []driver.NamedValue) (driver.Value, error) {
	if !o.isArg {
		return o.lit, nil
	}
	if o.name != "" {
		for _, a := range args {
			if a.Name == o.name {
				return a.Value, nil
			}
		}
		return nil, fmt.Errorf("fakedb: missing named argument %q", o.name)
	}
	if i := o.ordinal - 1; i < len(args) && args[i].Ordinal == o.ordinal {
		return args[i].Value, nil
	}
	for _, a := range args {
		if a.Ordinal == o.ordinal {
			return a.Value, nil
		}
	}
	return nil, fmt.Errorf("fakedb: missing argument %d (got %d)", o.ordinal, len(args))
}

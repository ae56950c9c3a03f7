package sqlscan

import "testing"

// The unnamed-setting fallback of 402afe2 (a name read only in part, then
// a top-level =) fires on SET PASSWORD FOR user = ... and SET OPTION x = 1,
// which set no system variable: each costs the connection a probe round
// trip and leaves its transaction state uncertain (reads on it bypass the
// cache) until a COMMIT or ROLLBACK.
func TestUUnnamedSettingFalsePositives(t *testing.T) {
	for _, q := range []string{
		"SET PASSWORD FOR 'app'@'%' = 'secret'",
		"SET PASSWORD FOR CURRENT_USER() = PASSWORD('secret')",
	} {
		for _, v := range Scan(MySQL, q).SessionVars {
			if v.Name == "" {
				t.Errorf("%s: an unnamed setting (taken for autocommit of unknown value)", q)
			}
		}
	}
}

// SET STATEMENT completion_type = 1 FOR COMMIT AND NO CHAIN does not chain
// (the explicit NO CHAIN wins on MariaDB), nor does XA COMMIT whatever
// completion_type is; statementChain reports Chain for both, and tx.go
// takes Chain over NoChain (integration TestUSetStatementChainOverridesNoChain).
func TestUSetStatementChainIgnoresNoChain(t *testing.T) {
	for _, q := range []string{
		"SET STATEMENT completion_type = 1 FOR COMMIT AND NO CHAIN",
		"SET STATEMENT completion_type = 1 FOR ROLLBACK AND NO CHAIN",
		"SET STATEMENT completion_type = 1 FOR XA COMMIT 'x' ONE PHASE",
	} {
		if st := Scan(MySQL, q); st.Chain {
			t.Errorf("%s: Chain (NoChain %v), but the server begins no transaction", q, st.NoChain)
		}
	}
}

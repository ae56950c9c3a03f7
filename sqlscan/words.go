package sqlscan

// kw identifies a keyword the scanner acts on.
type kw uint8

const (
	kNone kw = iota
	kAbort
	kAll
	kAlter
	kAnalyze
	kApply
	kAs
	kAttach
	kBegin
	kBy
	kCall
	kCascade
	kChain
	kClose
	kCluster
	kColumn
	kComment
	kCommit
	kConcurrently
	kConflict
	kConstraint
	kCopy
	kCreate
	kCross
	kCycle
	kDeallocate
	kDeclare
	kDefault
	kDelete
	kDesc
	kDescribe
	kDetach
	kDiscard
	kDistinct
	kDo
	kDrop
	kDual
	kDuplicate
	kEnd
	kExcept
	kExec
	kExecute
	kExists
	kExplain
	kFetch
	kFor
	kForce
	kFrom
	kFull
	kGrant
	kGroup
	kHaving
	kIf
	kIgnore
	kIn
	kIndex
	kInner
	kInsert
	kIntersect
	kInto
	kIs
	kJoin
	kKey
	kLateral
	kLeft
	kLimit
	kListen
	kLoad
	kLock
	kMaterialized
	kMerge
	kMinus
	kMode
	kMove
	kNatural
	kNo
	kNot
	kNotify
	kOf
	kOffset
	kOn
	kOnly
	kOptimize
	kOr
	kOrder
	kOuter
	kPartition
	kPragma
	kPrepare
	kPrepared
	kQualify
	kRecursive
	kRefresh
	kReindex
	kRelease
	kRename
	kReplace
	kReset
	kReturning
	kRevoke
	kRight
	kRollback
	kSavepoint
	kSearch
	kSelect
	kSet
	kShare
	kShow
	kStart
	kStraightJoin
	kTable
	kTablesample
	kTemp
	kTemporary
	kTo
	kTransaction
	kTruncate
	kUnion
	kUnlisten
	kUnlock
	kUpdate
	kUpsert
	kUse
	kUsing
	kVacuum
	kValues
	kValue
	kView
	kWhere
	kWindow
	kWith
	kWork
	kCheckpoint
	kAnd
	kWhen
	kThen
	kElse
	kCase
	kOver
	kFilter
	kLike
	kIlike
	kBetween
	kAny
	kSome
	kArray
	kRow
	kRows
	kCast
	kReferences
	kTrigger
	kFunction
	kProcedure
	kType
	kPrimary
	kForeign
	kUnique
	kCheck
	kInterval
	kCollate
	kEscape
	kSimilar
	kRegexp
	kRlike
	kDiv
	kMod
	kXor
	kNull
	kTrue
	kFalse
	kUnknown
	kInclude
	kNulls
	kFirst
	kLast
	kAsc
	kCurrentTimestamp
	kInsertMethod
	kHandler
	kXa
	kTran
	kIndexed
	kDefinerAlgorithm
	kLowPriority
	kHighPriority
	kDelayed
	kQuick
	kOutfile
	kDumpfile
	kUnlogged
	kVirtual
	kGlobal
	kLocal
	kFulltext
	kSpatial
	kSecurity
	kDefiner
	kAlgorithm
	kSql
	kWrite
	kRead
)

var kwByName = map[string]kw{
	"abort": kAbort, "all": kAll, "alter": kAlter, "analyze": kAnalyze, "analyse": kAnalyze,
	"apply": kApply, "as": kAs, "attach": kAttach, "begin": kBegin, "by": kBy, "call": kCall,
	"cascade": kCascade, "chain": kChain, "close": kClose, "cluster": kCluster, "column": kColumn,
	"comment": kComment, "commit": kCommit, "concurrently": kConcurrently, "conflict": kConflict,
	"constraint": kConstraint, "copy": kCopy, "create": kCreate, "cross": kCross, "cycle": kCycle,
	"deallocate": kDeallocate, "declare": kDeclare, "default": kDefault, "delete": kDelete,
	"desc": kDesc, "describe": kDescribe, "detach": kDetach, "discard": kDiscard,
	"distinct": kDistinct, "distinctrow": kDistinct, "do": kDo, "drop": kDrop, "dual": kDual,
	"duplicate": kDuplicate, "end": kEnd, "except": kExcept, "exec": kExec, "execute": kExecute,
	"exists": kExists, "explain": kExplain, "fetch": kFetch, "for": kFor, "force": kForce,
	"from": kFrom, "full": kFull, "grant": kGrant, "group": kGroup, "having": kHaving, "if": kIf,
	"ignore": kIgnore, "in": kIn, "index": kIndex, "inner": kInner, "insert": kInsert,
	"intersect": kIntersect, "into": kInto, "is": kIs, "join": kJoin, "key": kKey,
	"lateral": kLateral, "left": kLeft, "limit": kLimit, "listen": kListen, "load": kLoad,
	"lock": kLock, "materialized": kMaterialized, "merge": kMerge, "minus": kMinus, "mode": kMode,
	"move": kMove, "natural": kNatural, "no": kNo, "not": kNot, "notify": kNotify, "of": kOf,
	"offset": kOffset, "on": kOn, "only": kOnly, "optimize": kOptimize, "or": kOr, "order": kOrder,
	"outer": kOuter, "partition": kPartition, "pragma": kPragma, "prepare": kPrepare,
	"prepared": kPrepared, "qualify": kQualify, "recursive": kRecursive, "refresh": kRefresh,
	"reindex": kReindex, "release": kRelease, "rename": kRename, "replace": kReplace,
	"reset": kReset, "returning": kReturning, "revoke": kRevoke, "right": kRight,
	"rollback": kRollback, "savepoint": kSavepoint, "search": kSearch, "select": kSelect,
	"set": kSet, "share": kShare, "show": kShow, "start": kStart, "straight_join": kStraightJoin,
	"table": kTable, "tablesample": kTablesample, "temp": kTemp, "temporary": kTemporary,
	"to": kTo, "transaction": kTransaction, "truncate": kTruncate, "union": kUnion,
	"unlisten": kUnlisten, "unlock": kUnlock, "update": kUpdate, "upsert": kUpsert, "use": kUse,
	"using": kUsing, "vacuum": kVacuum, "values": kValues, "value": kValue, "view": kView,
	"where": kWhere, "window": kWindow, "with": kWith, "work": kWork, "checkpoint": kCheckpoint,
	"and": kAnd, "when": kWhen, "then": kThen, "else": kElse, "case": kCase, "over": kOver,
	"filter": kFilter, "like": kLike, "ilike": kIlike, "between": kBetween, "any": kAny,
	"some": kSome, "array": kArray, "row": kRow, "rows": kRows, "cast": kCast,
	"references": kReferences, "trigger": kTrigger, "function": kFunction,
	"procedure": kProcedure, "type": kType, "primary": kPrimary, "foreign": kForeign,
	"unique": kUnique, "check": kCheck, "interval": kInterval, "collate": kCollate,
	"escape": kEscape, "similar": kSimilar, "regexp": kRegexp, "rlike": kRlike, "div": kDiv,
	"mod": kMod, "xor": kXor, "null": kNull, "true": kTrue, "false": kFalse,
	"unknown": kUnknown, "include": kInclude, "nulls": kNulls, "first": kFirst, "last": kLast,
	"asc": kAsc, "handler": kHandler, "xa": kXa, "tran": kTran, "indexed": kIndexed,
	"low_priority": kLowPriority, "high_priority": kHighPriority, "delayed": kDelayed,
	"quick": kQuick, "outfile": kOutfile, "dumpfile": kDumpfile, "unlogged": kUnlogged,
	"virtual": kVirtual, "global": kGlobal, "local": kLocal, "fulltext": kFulltext,
	"spatial": kSpatial, "security": kSecurity, "definer": kDefiner, "algorithm": kAlgorithm,
	"sql": kSql, "write": kWrite, "read": kRead,
}

// lowerInto writes the ASCII-lower-cased w into buf and returns it; ok is
// false when w does not fit (no keyword or known function is that long).
func lowerInto(buf []byte, w string) ([]byte, bool) {
	if len(w) > cap(buf) {
		return nil, false
	}
	b := buf[:len(w)]
	for i := 0; i < len(w); i++ {
		c := w[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		b[i] = c
	}
	return b, true
}

// wordInfo is what the scanner knows about a bare word: its keyword id and
// its function class. One map holds both so a word costs one lookup.
type wordInfo struct {
	kw  kw
	cls uint8
}

var words = func() map[string]wordInfo {
	m := make(map[string]wordInfo, len(kwByName)+len(funcClass))
	for name, k := range kwByName {
		m[name] = wordInfo{kw: k, cls: funcClass[name]}
	}
	for name, c := range funcClass {
		m[name] = wordInfo{kw: kwByName[name], cls: c}
	}
	return m
}()

// maxWordLen is the length of the longest known word.
const maxWordLen = 40

func lookupWord(w string) wordInfo {
	var buf [maxWordLen]byte
	b, ok := lowerInto(buf[:], w)
	if !ok {
		return wordInfo{}
	}
	return words[string(b)]
}

// Function name classes.
const (
	fnPure      uint8 = 1 << iota // built in and deterministic for given arguments and table contents
	fnVolatile                    // result changes between calls or with session state
	fnNotCall                     // a keyword or type name that may be followed by '('
	fnNoParens                    // volatile even without parentheses (SQL keyword forms)
	fnSQLiteNow                   // SQLite date/time function: volatile with 'now' or no time value
)

var funcClass = func() map[string]uint8 {
	m := map[string]uint8{}
	add := func(class uint8, names ...string) {
		for _, n := range names {
			m[n] |= class
		}
	}
	add(fnVolatile,
		"now", "current_timestamp", "current_date", "current_time", "localtime", "localtimestamp",
		"sysdate", "statement_timestamp", "clock_timestamp", "transaction_timestamp", "timeofday",
		"utc_timestamp", "utc_date", "utc_time", "curdate", "curtime", "getdate", "getutcdate",
		"sysdatetime", "sysutcdatetime", "sysdatetimeoffset", "current_timestamp", "unix_timestamp",
		"random", "rand", "randomblob", "random_bytes", "uuid", "uuid_short", "gen_random_uuid",
		"gen_random_bytes", "gen_salt", "uuid_generate_v1", "uuid_generate_v1mc", "uuid_generate_v4",
		"uuidv4", "uuidv7", "uuid_v4", "uuid_v7", "newid", "newsequentialid", "setseed",
		"nextval", "currval", "lastval", "setval", "last_insert_id", "last_insert_rowid", "changes",
		"total_changes", "row_count", "found_rows", "connection_id", "pg_backend_pid",
		"txid_current", "txid_current_if_assigned", "pg_current_xact_id", "txid_current_snapshot",
		"current_user", "session_user", "system_user", "current_role", "user", "current_setting",
		"set_config", "database", "schema", "current_schema", "current_schemas", "current_database",
		"current_catalog", "version", "sleep", "pg_sleep", "pg_sleep_for", "pg_sleep_until",
		"get_lock", "release_lock", "release_all_locks", "is_free_lock", "is_used_lock",
		"pg_advisory_lock", "pg_advisory_lock_shared", "pg_advisory_xact_lock",
		"pg_advisory_xact_lock_shared", "pg_try_advisory_lock", "pg_try_advisory_lock_shared",
		"pg_try_advisory_xact_lock", "pg_try_advisory_xact_lock_shared", "pg_advisory_unlock",
		"pg_advisory_unlock_shared", "pg_advisory_unlock_all", "inet_client_addr",
		"inet_client_port", "inet_server_addr", "inet_server_port", "pg_postmaster_start_time",
		"pg_conf_load_time", "pg_my_temp_schema", "pg_is_in_recovery", "pg_current_wal_lsn",
		"pg_notify", "pg_cancel_backend", "pg_terminate_backend", "crypt", "sqlite_version",
		"benchmark", "sys_guid", "localtimestamp", "pg_trigger_depth", "to_timestamp_now",
		"array_shuffle", "array_sample", "random_normal", "st_generatepoints",
		// catalog lookups: DDL and writes change them without naming them
		"obj_description", "col_description", "pg_get_serial_sequence", "pg_get_indexdef",
		"pg_get_viewdef", "pg_get_constraintdef", "pg_get_expr", "pg_table_is_visible",
		"pg_relation_size", "pg_total_relation_size", "pg_table_size", "pg_indexes_size",
		"has_table_privilege", "has_schema_privilege", "has_column_privilege",
		"has_function_privilege", "to_regclass", "to_regtype", "to_regproc", "to_regprocedure",
		"to_regnamespace", "regclass")
	add(fnNoParens, "current_timestamp", "current_date", "current_time", "localtime",
		"localtimestamp", "current_user", "session_user", "system_user", "current_role",
		"current_schema", "current_catalog", "utc_timestamp", "utc_date", "utc_time", "sysdate",
		// MySQL: makes the SELECT set what FOUND_ROWS() returns next
		"sql_calc_found_rows")
	add(fnSQLiteNow, "date", "time", "datetime", "julianday", "unixepoch", "strftime", "timediff")
	add(fnPure,
		// aggregates and window functions
		"count", "sum", "avg", "min", "max", "every", "bool_and", "bool_or", "bit_and", "bit_or",
		"bit_xor", "array_agg", "string_agg", "group_concat", "json_agg", "jsonb_agg",
		"json_object_agg", "jsonb_object_agg", "json_arrayagg", "json_objectagg", "json_group_array",
		"json_group_object", "stddev", "stddev_pop", "stddev_samp", "variance", "var_pop", "var_samp",
		"percentile_cont", "percentile_disc", "mode", "corr", "covar_pop", "covar_samp",
		"regr_slope", "regr_intercept", "row_number", "rank", "dense_rank", "percent_rank",
		"cume_dist", "ntile", "lag", "lead", "first_value", "last_value", "nth_value", "total",
		"grouping", "listagg", "xmlagg", "any_value", "median",
		// conditionals and comparison
		"coalesce", "nullif", "greatest", "least", "ifnull", "nvl", "if", "iif", "isnull",
		"nullifzero", "decode", "choose", "likely", "unlikely", "likelihood", "field", "elt",
		"interval", "isnotnull",
		// casts and conversion
		"cast", "try_cast", "convert", "to_char", "to_number", "to_date", "to_timestamp",
		"to_hex", "hex", "unhex", "bin", "oct", "conv", "typeof", "pg_typeof", "format_type",
		"quote", "quote_ident", "quote_literal", "quote_nullable", "binary", "char",
		"to_json", "to_jsonb", "row_to_json", "array_to_json", "json_build_object",
		"jsonb_build_object", "json_build_array", "jsonb_build_array", "json_object",
		"jsonb_object", "json_array", "json_array_length", "jsonb_array_length", "json_extract",
		"json_extract_path", "json_extract_path_text", "jsonb_extract_path",
		"jsonb_extract_path_text", "json_typeof", "jsonb_typeof", "jsonb_set", "jsonb_insert",
		"jsonb_pretty", "jsonb_strip_nulls", "json_strip_nulls", "json_each", "jsonb_each",
		"json_each_text", "jsonb_each_text", "json_array_elements", "jsonb_array_elements",
		"json_array_elements_text", "jsonb_array_elements_text", "json_object_keys",
		"jsonb_object_keys", "json_populate_record", "jsonb_populate_record",
		"json_populate_recordset", "jsonb_populate_recordset", "json_to_record", "jsonb_to_record",
		"json_to_recordset", "jsonb_to_recordset", "jsonb_path_query", "jsonb_path_exists",
		"jsonb_path_match", "jsonb_path_query_array", "jsonb_path_query_first", "json_tree",
		"json_valid", "json_quote", "json_unquote", "json_contains", "json_contains_path",
		"json_keys", "json_length", "json_set", "json_insert", "json_replace", "json_remove",
		"json_merge_patch", "json_merge_preserve", "json_search", "json_value", "json_query",
		"json_exists", "json_type", "json_patch", "json_table", "json", "jsonb", "json_pretty",
		"json_overlaps", "json_depth", "json_schema_valid", "json_array_append",
		"json_array_insert", "json_storage_size", "jsonb_exists", "jsonb_exists_any",
		"jsonb_exists_all", "jsonb_concat", "jsonb_delete", "jsonb_delete_path",
		"jsonb_build_object", "json_scalar", "json_serialize",
		// strings
		"lower", "upper", "lcase", "ucase", "length", "char_length", "character_length",
		"octet_length", "bit_length", "len", "substr", "substring", "substring_index", "mid",
		"left", "right", "trim", "ltrim", "rtrim", "btrim", "lpad", "rpad", "replace",
		"regexp_replace", "regexp_match", "regexp_matches", "regexp_like", "regexp_substr",
		"regexp_instr", "regexp_count", "regexp_split_to_array", "regexp_split_to_table",
		"split_part", "string_to_array", "array_to_string", "concat", "concat_ws", "format",
		"position", "strpos", "instr", "locate", "reverse", "repeat", "space", "ascii", "chr",
		"initcap", "translate", "overlay", "md5", "sha1", "sha2", "sha224", "sha256", "sha384",
		"sha512", "digest", "hmac", "encode", "decode", "to_base64", "from_base64", "base64",
		"soundex", "difference", "levenshtein", "similarity", "word_similarity", "unaccent",
		"starts_with", "ends_with", "printf", "char_index", "charindex", "patindex", "stuff",
		"replicate", "str", "string_split", "unicode", "nchar", "glob", "like", "escape",
		"zeroblob", "quote", "crc32", "inet_aton", "inet_ntoa", "inet6_aton", "inet6_ntoa",
		"compress", "uncompress", "weight_string", "format_bytes", "left", "insert", "export_set",
		"make_set", "find_in_set", "match", "against", "char_length", "to_tsvector",
		"to_tsquery", "plainto_tsquery", "phraseto_tsquery", "websearch_to_tsquery", "ts_rank",
		"ts_rank_cd", "ts_headline", "setweight", "strip", "numnode", "querytree",
		"casefold", "normalize", "collation", "charset", "coercibility", "string_agg",
		"citext", "text", "varchar", "bpchar", "bytea", "uuid_to_bin", "bin_to_uuid",
		"is_uuid", "ord", "encrypt", "aes_encrypt", "aes_decrypt", "pgp_sym_encrypt",
		"pgp_sym_decrypt",
		// numbers
		"abs", "ceil", "ceiling", "floor", "round", "trunc", "truncate", "sign", "sqrt", "cbrt",
		"power", "pow", "exp", "ln", "log", "log2", "log10", "mod", "div", "pi", "degrees",
		"radians", "sin", "cos", "tan", "asin", "acos", "atan", "atan2", "cot", "sinh", "cosh",
		"tanh", "gcd", "lcm", "factorial", "width_bucket", "scale", "min_scale", "trim_scale",
		"numeric", "decimal", "int", "integer", "bigint", "smallint", "float", "real", "double",
		"float4", "float8", "int2", "int4", "int8", "bool", "boolean", "bit", "bit_count",
		"format_number", "to_bin", "signed", "unsigned",
		// dates from arguments (deterministic when no 'now' is involved)
		"date_trunc", "date_part", "extract", "date_add", "date_sub", "datediff", "timestampdiff",
		"timestampadd", "adddate", "subdate", "addtime", "subtime", "date_format", "time_format",
		"str_to_date", "from_unixtime", "unix_timestamp", "make_date", "make_time",
		"make_timestamp", "make_timestamptz", "make_interval", "justify_days", "justify_hours",
		"justify_interval", "age", "isfinite", "year", "month", "day", "hour", "minute",
		"second", "microsecond", "week", "weekday", "dayofweek", "dayofmonth", "dayofyear",
		"dayname", "monthname", "quarter", "yearweek", "last_day", "makedate", "maketime",
		"period_add", "period_diff", "sec_to_time", "time_to_sec", "to_days", "from_days",
		"to_seconds", "timestamp", "timestamptz", "convert_tz", "date_bin", "datepart",
		"dateadd", "datename", "eomonth", "datefromparts", "datetimefromparts", "overlaps",
		"timezone", "get_format", "weekofyear", "date", "time", "datetime", "julianday",
		"unixepoch", "strftime", "timediff", "epoch",
		// arrays, sets, ranges, geometry basics, misc
		"unnest", "generate_series", "generate_subscripts", "array_length", "array_lower",
		"array_upper", "array_position", "array_positions", "array_append", "array_prepend",
		"array_cat", "array_remove", "array_replace", "array_dims", "array_ndims", "cardinality",
		"array_fill", "trim_array", "array", "range", "int4range", "int8range", "numrange",
		"tsrange", "tstzrange", "daterange", "lower_inf", "upper_inf", "isempty", "range_merge",
		"multirange", "row", "exists", "any", "all", "some", "nullif", "values",
		"pragma_table_info", "pragma_index_list", "pragma_index_info", "pragma_foreign_key_list",
		"pragma_table_xinfo", "pragma_function_list", "pragma_database_list", "sqlite_compileoption_used",
		"point", "box", "circle", "line", "lseg", "path", "polygon", "area", "center", "diameter",
		"height", "width", "radius", "npoints", "host", "hostmask", "masklen", "netmask",
		"network", "broadcast", "family", "inet", "cidr", "set_masklen", "abbrev", "inet_same_family",
		"inet_merge", "macaddr", "numeric_precision",
		"pg_size_pretty", "pg_column_size", "oid", "pg_encoding_to_char", "iif", "isjson", "string_agg",
		"tuple", "st_distance", "st_dwithin", "st_makepoint", "st_setsrid", "st_contains",
		"st_intersects", "st_astext", "st_geomfromtext", "st_x", "st_y", "st_asgeojson",
		"st_transform", "st_buffer", "st_within", "st_area", "st_length", "st_point",
		"st_distance_sphere", "st_geogfromtext", "geography", "geometry",
		"st_makeenvelope", "st_asmvt", "st_asmvtgeom", "st_union", "st_centroid",
		"st_distancesphere", "st_intersection", "st_simplify", "st_envelope", "st_extent",
		"st_collect", "st_srid", "st_geomfromgeojson", "st_asbinary", "st_geomfromwkb",
		"st_makeline", "st_makepolygon", "st_npoints", "st_isvalid", "st_covers",
		"st_coveredby", "st_touches", "st_overlaps", "st_crosses", "st_disjoint", "st_equals",
		"st_closestpoint", "st_lineinterpolatepoint", "st_snaptogrid", "st_tileenvelope",
		// SQLite FTS5, JSONB and carray; MariaDB aggregates and dynamic columns
		"bm25", "highlight", "snippet", "jsonb_extract", "jsonb_array", "jsonb_object",
		"jsonb_set", "jsonb_insert", "jsonb_replace", "jsonb_remove", "jsonb_patch",
		"jsonb_group_array", "jsonb_group_object", "carray", "std", "column_get",
		"column_create", "column_json", "column_list", "column_exists", "column_add",
		"column_delete",
		// PostgreSQL hstore, ltree, earthdistance
		"hstore", "akeys", "avals", "skeys", "svals", "hstore_to_json", "hstore_to_jsonb",
		"hstore_to_array", "exist", "defined", "slice", "subltree", "subpath", "nlevel",
		"text2ltree", "ltree2text", "lca", "earth_distance", "ll_to_earth", "earth_box",
		"cube_distance", "latitude", "longitude")
	add(fnNotCall,
		// keywords that can stand before '('
		"in", "exists", "any", "all", "some", "values", "value", "as", "on", "using", "over",
		"filter", "within", "group", "array", "row", "rows", "range", "groups", "and", "or",
		"not", "when", "then", "else", "select", "where", "by", "from", "join", "lateral",
		"into", "returning", "case", "is", "like", "ilike", "between", "overlaps", "distinct",
		"conflict", "do", "key", "index", "primary", "unique", "check", "references", "foreign",
		"analyze", "analyse",
		"partition", "use", "force", "ignore", "with", "include", "tablesample", "bernoulli",
		"system", "repeatable", "cube", "rollup", "sets", "limit", "offset", "fetch", "window",
		"order", "exclude", "default", "table", "union", "intersect", "except", "minus", "escape",
		"of", "for", "only", "set", "materialized", "search", "cycle", "interval", "having",
		"similar", "regexp", "rlike", "div", "mod", "xor", "returns", "language", "constraint",
		"collate", "at", "zone", "to", "add", "modify", "change", "drop", "alter", "create",
		"trigger", "function", "procedure", "type", "domain", "sequence", "view", "generated",
		"stored", "identity", "storage", "pivot", "unpivot", "match", "against", "natural",
		"left", "right", "full", "inner", "outer", "cross", "straight_join", "if", "elseif",
		"then", "return", "exec", "execute", "call", "perform", "union", "lock", "share",
		"update", "delete", "insert", "replace", "merge", "upsert", "copy", "nulls", "first",
		"last", "asc", "desc", "recursive", "ordinality", "percent", "ties", "precision",
		"varying", "character", "national", "nvarchar", "nchar", "varbinary", "blob", "clob",
		"tinyint", "mediumint", "tinytext", "mediumtext", "longtext", "text", "enum", "year",
		"datetime2", "datetimeoffset", "smalldatetime", "money", "serial", "bigserial",
		"smallserial", "double", "dec", "fixed", "number", "varchar2", "nvarchar2", "raw",
		"timetz", "timestamptz", "tsvector", "tsquery", "xml", "uuid", "cidr", "inet", "macaddr",
		"bit", "varbit", "geometry", "geography", "vector", "halfvec", "sparsevec", "object",
		"returning", "output", "top", "next", "apply", "qualify", "sample", "semi", "anti", "asof")
	return m
}()

// reservedBeforeCall are words after which a name followed by '(' is still a
// function call. After any other bare word (a table or alias) the name is an
// alias with a column list.
func isOperatorWord(k kw) bool {
	switch k {
	case kSelect, kWhere, kAnd, kOr, kNot, kOn, kBy, kHaving, kWhen, kThen, kElse, kCase,
		kIn, kReturning, kSet, kDistinct, kAll, kFrom, kJoin, kLateral, kUsing, kIs, kLike,
		kIlike, kBetween, kDefault, kLimit, kOffset, kValues, kValue, kAny, kSome, kExists,
		kCall, kExec, kExecute, kDo, kEnd, kWith, kOver, kFilter, kEscape, kSimilar, kRegexp,
		kRlike, kDiv, kMod, kXor, kCollate, kInterval, kUnion, kIntersect, kExcept, kMinus,
		kArray, kRow, kGroup, kOrder, kCross, kApply, kOuter, kStraightJoin, kInner, kLeft,
		kRight, kFull, kNatural, kFor, kOnly, kQualify, kUpdate, kTablesample, kCheck, kTo:
		return true
	}
	return false
}

// Dialect bits of builtIn.
const (
	inPostgres uint8 = 1 << iota
	inMySQL
	inSQLite
)

// builtIn names the dialects whose servers have a function of funcClass
// built in, for the names that not all three have; a name missing here is
// taken for one of all three. In another dialect a call of that name is an
// application's function (total() in PostgreSQL, or a function named like
// a keyword of another database's: exec, sample), which may read or write
// any table. Generic text takes every dialect's built-ins. A name listed
// with too few dialects only costs caching.
var builtIn = func() map[string]uint8 {
	m := map[string]uint8{}
	add := func(in uint8, names ...string) {
		for _, n := range names {
			m[n] = in
		}
	}
	add(inSQLite,
		"total", "iif", "likely", "unlikely", "likelihood", "printf", "zeroblob", "randomblob",
		"glob", "julianday", "unixepoch", "strftime", "changes", "total_changes",
		"last_insert_rowid", "sqlite_version", "sqlite_compileoption_used", "json_group_array",
		"json_group_object", "json_patch", "json_tree", "json", "jsonb", "jsonb_extract",
		"jsonb_array", "jsonb_replace", "jsonb_remove", "jsonb_patch", "jsonb_group_array",
		"jsonb_group_object", "typeof", "unicode", "bm25", "highlight", "snippet", "carray")
	add(inMySQL,
		"isnull", "field", "elt", "lcase", "ucase", "mid", "substring_index", "locate", "space",
		"find_in_set", "make_set", "export_set", "inet_aton", "inet_ntoa", "inet6_aton",
		"inet6_ntoa", "compress", "uncompress", "weight_string", "format_bytes", "to_base64",
		"from_base64", "crc32", "conv", "bin", "oct", "sha1", "sha2", "date_sub",
		"datediff", "timestampdiff", "timestampadd", "adddate", "subdate", "addtime", "subtime",
		"date_format", "time_format", "str_to_date", "from_unixtime", "makedate", "maketime",
		"period_add", "period_diff", "sec_to_time", "time_to_sec", "to_days", "from_days",
		"to_seconds", "yearweek", "weekday", "dayofweek", "dayofmonth", "dayofyear", "dayname",
		"monthname", "quarter", "week", "weekofyear", "last_day", "convert_tz", "get_format",
		"microsecond", "year", "month", "day", "hour", "minute", "second", "json_contains",
		"json_contains_path", "json_keys", "json_length", "json_search", "json_unquote",
		"json_merge_patch", "json_merge_preserve", "json_overlaps", "json_depth",
		"json_schema_valid", "json_array_append", "json_array_insert", "json_storage_size",
		"std", "column_get", "column_create", "column_json", "column_list",
		"column_exists", "column_add", "column_delete", "aes_encrypt", "aes_decrypt", "encrypt",
		"uuid_to_bin", "bin_to_uuid", "is_uuid", "ord", "collation", "charset", "coercibility",
		"nvl", "median", "uuid_short", "connection_id", "found_rows", "row_count", "get_lock",
		"release_lock", "release_all_locks", "is_free_lock", "is_used_lock", "benchmark",
		"sleep", "curdate", "curtime", "utc_timestamp", "utc_date", "utc_time", "last_insert_id",
		"database", "schema",
		// MariaDB's: 10.6, 11.7
		"sys_guid", "uuid_v4", "uuid_v7")
	add(inPostgres,
		"array_agg", "json_agg", "jsonb_agg", "json_object_agg", "jsonb_object_agg", "bool_and",
		"bool_or", "every", "mode", "corr", "covar_pop",
		"covar_samp", "regr_slope", "regr_intercept", "xmlagg", "to_number", "to_date",
		"to_timestamp", "to_hex", "format_type", "quote_ident", "quote_literal",
		"quote_nullable", "to_json", "to_jsonb", "row_to_json", "array_to_json",
		"json_build_object", "jsonb_build_object", "json_build_array", "jsonb_build_array",
		"jsonb_array_length", "json_extract_path", "json_extract_path_text",
		"jsonb_extract_path", "jsonb_extract_path_text", "json_typeof", "jsonb_typeof",
		"jsonb_pretty", "jsonb_strip_nulls", "json_strip_nulls", "jsonb_each", "json_each_text",
		"jsonb_each_text", "json_array_elements", "jsonb_array_elements",
		"json_array_elements_text", "jsonb_array_elements_text", "json_object_keys",
		"jsonb_object_keys", "json_populate_record", "jsonb_populate_record",
		"json_populate_recordset", "jsonb_populate_recordset", "json_to_record",
		"jsonb_to_record", "json_to_recordset", "jsonb_to_recordset", "jsonb_path_query",
		"jsonb_path_exists", "jsonb_path_match", "jsonb_path_query_array",
		"jsonb_path_query_first", "json_scalar", "json_serialize", "jsonb_exists",
		"jsonb_exists_any", "jsonb_exists_all", "jsonb_concat", "jsonb_delete",
		"jsonb_delete_path", "btrim", "regexp_match", "regexp_matches", "regexp_count",
		"regexp_split_to_array", "regexp_split_to_table", "split_part", "string_to_array",
		"array_to_string", "strpos", "initcap", "translate", "overlay", "sha224", "sha256",
		"sha384", "sha512", "digest", "hmac", "difference", "levenshtein", "similarity",
		"word_similarity", "unaccent", "starts_with", "to_tsvector", "to_tsquery",
		"plainto_tsquery", "phraseto_tsquery", "websearch_to_tsquery", "ts_rank", "ts_rank_cd",
		"ts_headline", "setweight", "strip", "numnode", "querytree", "casefold", "normalize",
		"citext", "bpchar", "bytea", "pgp_sym_encrypt", "pgp_sym_decrypt", "cbrt", "gcd", "lcm",
		"factorial", "width_bucket", "scale", "min_scale", "trim_scale", "date_trunc",
		"date_part", "make_date", "make_time", "make_timestamp", "make_timestamptz",
		"make_interval", "justify_days", "justify_hours", "justify_interval", "age", "isfinite",
		"timestamptz", "date_bin", "timezone", "generate_subscripts", "array_length",
		"array_lower", "array_upper", "array_position", "array_positions", "array_append",
		"array_prepend", "array_cat", "array_remove", "array_replace", "array_dims",
		"array_ndims", "cardinality", "array_fill", "trim_array", "int4range", "int8range",
		"numrange", "tsrange", "tstzrange", "daterange", "lower_inf", "upper_inf", "isempty",
		"range_merge", "multirange", "box", "circle", "lseg", "path", "area", "center",
		"diameter", "height", "width", "radius", "npoints", "host", "hostmask", "masklen",
		"netmask", "network", "broadcast", "family", "inet", "cidr", "set_masklen", "abbrev",
		"inet_same_family", "inet_merge", "macaddr", "oid", "hstore", "akeys", "avals", "skeys",
		"svals", "hstore_to_json", "hstore_to_jsonb", "hstore_to_array", "exist", "defined",
		"slice", "subltree", "subpath", "nlevel", "text2ltree", "ltree2text", "lca",
		"earth_distance", "ll_to_earth", "earth_box", "cube_distance", "latitude", "longitude",
		"gen_random_uuid", "gen_random_bytes", "gen_salt", "crypt", "uuid_generate_v1",
		"uuid_generate_v1mc", "uuid_generate_v4", "setseed", "currval", "statement_timestamp", "clock_timestamp", "transaction_timestamp",
		"timeofday", "txid_current", "txid_current_if_assigned", "txid_current_snapshot",
		"current_setting", "set_config", "current_schemas", "current_database",
		"inet_client_addr", "inet_client_port", "inet_server_addr", "inet_server_port",
		"obj_description", "col_description", "has_table_privilege", "has_schema_privilege",
		"has_column_privilege", "has_function_privilege", "to_regclass", "to_regtype",
		"to_regproc", "to_regprocedure", "to_regnamespace", "array_shuffle", "array_sample",
		"random_normal",
		// PostgreSQL 18
		"uuidv4", "uuidv7")
	add(inPostgres|inMySQL,
		"greatest", "least", "decode", "encode", "convert", "to_char", "left", "right", "lpad",
		"rpad", "position", "reverse", "repeat", "ascii", "chr", "md5", "soundex", "char_length",
		"character_length", "bit_length", "regexp_like", "regexp_substr", "regexp_instr",
		"any_value", "bit_count", "timestamp", "json_value", "json_query", "json_table",
		"json_arrayagg", "json_objectagg", "point", "polygon", "stddev", "stddev_pop",
		"stddev_samp", "variance", "var_pop", "var_samp", "uuid", "now", "version", "current_role",
		"nextval", "lastval", "setval", "json_exists",
		// MariaDB's, and PostgreSQL's since 16
		"percentile_cont", "percentile_disc", "date_add")
	add(inMySQL|inSQLite,
		"group_concat", "if", "ifnull", "instr", "hex", "unhex", "quote", "json_extract",
		"json_set", "json_insert", "json_replace", "json_remove", "json_type", "json_valid",
		"json_quote", "timediff", "json_pretty")
	add(inPostgres|inSQLite,
		"string_agg", "json_each", "json_array_length", "jsonb_set", "jsonb_insert",
		"jsonb_object", "generate_series", "random")
	// Keywords of other databases' that may stand before '(' (SQL Server,
	// DuckDB, Snowflake, PL/pgSQL): to these three a name like any other.
	add(0, "exec", "execute", "call", "perform", "sample", "semi", "anti", "asof", "top",
		"output", "qualify", "pivot", "unpivot", "apply", "minus",
		// and functions of theirs
		"listagg", "nullifzero", "choose", "isnotnull", "try_cast", "len", "char_index",
		"charindex", "patindex", "stuff", "replicate", "str", "string_split", "nchar",
		"isjson", "tuple", "datepart", "dateadd", "datename", "eomonth", "datefromparts",
		"datetimefromparts", "epoch", "ends_with", "base64", "getdate", "getutcdate",
		"sysdatetime", "sysutcdatetime", "sysdatetimeoffset", "newid", "newsequentialid",
		"to_timestamp_now")
	return m
}()

// builtInTo reports whether the function name (lower case) is built into
// the servers of dialect d.
func builtInTo(d Dialect, name string) bool {
	in, ok := builtIn[name]
	if !ok || d == Generic {
		return true
	}
	switch d {
	case Postgres:
		return in&inPostgres != 0
	case MySQL:
		return in&inMySQL != 0
	case SQLite:
		return in&inSQLite != 0
	}
	return true
}

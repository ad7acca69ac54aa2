package datacheck

import (
	"fmt"
	"strings"
)

// mysqlDialect is MySQL's and MariaDB's.
type mysqlDialect struct{}

func (mysqlDialect) engine() string { return "mysql" }

func (mysqlDialect) quote(ident string) string {
	return "`" + strings.ReplaceAll(ident, "`", "``") + "`"
}

func (mysqlDialect) placeholder(int) string { return "?" }

func (mysqlDialect) canon(c string, own, k kind, scale int) string {
	switch k {
	case kInt, kFloat, kOther:
		return fmt.Sprintf("CAST(%s AS CHAR)", c)
	case kDecimal:
		if scale < 0 {
			return fmt.Sprintf("CAST(%s AS CHAR)", c)
		}
		return fmt.Sprintf("CAST(CAST(%s AS DECIMAL(65,%d)) AS CHAR)", c, min(scale, 30))
	case kBool:
		return fmt.Sprintf("CASE WHEN %s <> 0 THEN '1' WHEN %s = 0 THEN '0' END", c, c)
	case kTimestamp:
		return fmt.Sprintf("DATE_FORMAT(%s, '%%Y-%%m-%%dT%%H:%%i:%%s.%%f')", c)
	case kDate:
		return fmt.Sprintf("DATE_FORMAT(%s, '%%Y-%%m-%%d')", c)
	case kBytes:
		return fmt.Sprintf("LOWER(HEX(%s))", c)
	case kUUID:
		return fmt.Sprintf("LOWER(CAST(%s AS CHAR))", c)
	}
	return fmt.Sprintf("CONVERT(%s USING utf8mb4)", c)
}

func (mysqlDialect) order(c string, k kind) string {
	if k == kText {
		return "CAST(" + c + " AS BINARY)"
	}
	return c
}

func (mysqlDialect) rowText(canons []string) string {
	parts := make([]string, len(canons))
	for i, c := range canons {
		parts[i] = fmt.Sprintf("COALESCE(%s, CHAR(%d USING utf8mb4))", c, nullChar)
	}
	return fmt.Sprintf("CONCAT_WS(CHAR(%d USING utf8mb4), %s)", sepChar, strings.Join(parts, ", "))
}

func (mysqlDialect) native(c string) string { return c }

// checksum with fast is pt-table-checksum's: a BIT_XOR of CRC32s.
func (mysqlDialect) checksum(text string, fast bool) string {
	if fast {
		return fmt.Sprintf("COUNT(*), COALESCE(BIT_XOR(CRC32(%s)), 0)", text)
	}
	return fmt.Sprintf("COUNT(*), COALESCE(BIT_XOR(CAST(CONV(SUBSTRING(MD5(%s), 1, 16), 16, 10) AS UNSIGNED)), 0)", text)
}

func (mysqlDialect) checksumRecord([]string) string { return "" }

func (mysqlDialect) columnsSQL() string {
	return `SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, COALESCE(NUMERIC_SCALE, -1)
FROM information_schema.COLUMNS
WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?
ORDER BY ORDINAL_POSITION`
}

// keysSQL lists the unique indexes of a table without prefix parts:
// index, primary, column, NOT NULL.
func (mysqlDialect) keysSQL() string {
	return `SELECT INDEX_NAME, INDEX_NAME = 'PRIMARY', COLUMN_NAME, NULLABLE <> 'YES'
FROM information_schema.STATISTICS
WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND NON_UNIQUE = 0 AND SUB_PART IS NULL
ORDER BY INDEX_NAME = 'PRIMARY' DESC, INDEX_NAME, SEQ_IN_INDEX`
}

func (mysqlDialect) tablesSQL() string {
	return `SELECT TABLE_NAME FROM information_schema.TABLES
WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME`
}

// mysqlKind maps information_schema.COLUMNS DATA_TYPE and COLUMN_TYPE.
func mysqlKind(dataType, columnType string) kind {
	switch strings.ToLower(dataType) {
	case "tinyint":
		if strings.HasPrefix(strings.ToLower(columnType), "tinyint(1)") {
			return kBool
		}
		return kInt
	case "smallint", "mediumint", "int", "integer", "bigint", "year":
		return kInt
	case "decimal", "numeric":
		return kDecimal
	case "float", "double", "real":
		return kFloat
	case "char", "varchar", "tinytext", "text", "mediumtext", "longtext", "enum", "set":
		return kText
	case "datetime":
		return kTimestamp
	case "timestamp":
		return kTimestampTZ
	case "date":
		return kDate
	case "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob":
		return kBytes
	case "json":
		return kJSON
	case "uuid":
		return kUUID
	}
	return kOther
}

import type { Database, EngineResult } from '../../local/index.js';

const ONE: EngineResult = {
  hasResultSet: true,
  columns: [
    {
      name: 'one',
      label: 'one',
      typeName: 'int4',
      jdbcType: 4,
      kind: 'long',
      arrayBaseColumnType: 0,
      schemaName: '',
      tableName: '',
      isSigned: true,
      isCaseSensitive: false,
      isAutoIncrement: false,
      isCurrency: false,
      nullable: 2,
      precision: 10,
      scale: 0,
    },
  ],
  rows: [[1]],
  updated: 0,
};

/**
 * An engine that answers every statement with one row holding 1: for tests of the endpoints' wiring,
 * which should not pay for starting a database.
 */
export function fakeEngine(): Database & { readonly statements: string[] } {
  const statements: string[] = [];
  const query = async (sql: string): Promise<EngineResult> => {
    statements.push(sql);
    return ONE;
  };
  return {
    statements,
    dialect: 'postgres',
    description: 'fake engine',
    query,
    begin: async () => ({ query, commit: async () => {}, rollback: async () => {} }),
    close: async () => {},
  };
}

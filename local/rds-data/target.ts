/** The cluster ARN the local Data API answers for unless told otherwise. */
export const LOCAL_CLUSTER_ARN = 'arn:aws:rds:us-east-1:000000000000:cluster:rekey-local';
/** The database credentials secret ARN the local Data API is addressed with (it is not looked up). */
export const LOCAL_DB_SECRET_ARN =
  'arn:aws:secretsmanager:us-east-1:000000000000:secret:rekey-local-db-AbCdEf';

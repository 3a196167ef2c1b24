-- f_repair_mojibake: Redshift's text repair for double-encoded UTF-8, a Lambda UDF. Run once per
-- database by an administrator (it names the Lambda and the role allowed to invoke it):
--   replace :lambda_name and :invoke_role below, then run it with any SQL client.
create or replace external function f_repair_mojibake(varchar)
returns varchar
stable
lambda 'sparkify-repair-mojibake'
iam_role 'arn:aws:iam::123456789012:role/sparkify-redshift-lambda'

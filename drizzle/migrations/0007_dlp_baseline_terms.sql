-- Custom migration (prepared by `drizzle-kit generate --custom`): the baseline DLP dictionary. Promises of
-- capital protection or returns (保本, 稳赚, 保证收益, 承诺收益; 证券期货经营机构私募资产管理业务管理办法, 证券法)
-- and talk of inside information are blocked; wording that only suggests no risk is a warning to the
-- sender; hype words are logged for compliance review. Compliance and admin manage the dictionary
-- afterwards (/api/compliance/dlp-terms); this runs once, so a removed term stays removed.
INSERT INTO dlp_terms (term, lang, action, detail) VALUES
  ('保本', 'zh', 'block', '{"source":"baseline","reason":"承诺保本"}'),
  ('稳赚', 'zh', 'block', '{"source":"baseline","reason":"承诺收益"}'),
  ('保证收益', 'zh', 'block', '{"source":"baseline","reason":"承诺收益"}'),
  ('承诺收益', 'zh', 'block', '{"source":"baseline","reason":"承诺收益"}'),
  ('内幕消息', 'zh', 'block', '{"source":"baseline","reason":"内幕信息"}'),
  ('guaranteed return', 'en', 'block', '{"source":"baseline","reason":"promise of returns"}'),
  ('insider information', 'en', 'block', '{"source":"baseline","reason":"inside information"}'),
  ('零风险', 'zh', 'warn', '{"source":"baseline","reason":"暗示无风险"}'),
  ('必涨', 'zh', 'warn', '{"source":"baseline","reason":"预测确定性"}'),
  ('risk-free', 'en', 'warn', '{"source":"baseline","reason":"suggests no risk"}'),
  ('翻倍', 'zh', 'log', '{"source":"baseline","reason":"夸大收益用语"}'),
  ('暴涨', 'zh', 'log', '{"source":"baseline","reason":"夸大收益用语"}'),
  ('double your money', 'en', 'log', '{"source":"baseline","reason":"hype"}')
ON CONFLICT (term) DO NOTHING;

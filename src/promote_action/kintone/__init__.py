"""kintone REST API: wire format only (auth headers, client, models); operations live elsewhere."""

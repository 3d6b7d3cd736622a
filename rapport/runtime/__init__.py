"""What metadata becomes: field types, schema sync, compiled org model, records, queries."""

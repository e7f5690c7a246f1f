"""Pure figure builders: query results in, Plotly figures out (no Streamlit, no SQL)."""

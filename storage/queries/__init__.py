"""Named query functions the dashboard, wall and exports call: parameterised SQL aggregates,
no Streamlit imports, never "load every row". One module per area."""

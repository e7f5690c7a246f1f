"""Overview (placeholder until the dashboard issue lands)."""

import streamlit as st

st.title("Groundswell")
st.info("No dashboard pages yet.")

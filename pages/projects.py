"""Projects page (coming soon)."""
import streamlit as st

st.title("Projects")
st.info("Coming soon.")

"""Project P&L page (coming soon)."""
import streamlit as st

st.title("Project P&L")
st.info("Coming soon.")

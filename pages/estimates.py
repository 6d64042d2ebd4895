"""Estimates page (coming soon)."""
import streamlit as st

st.title("Estimates")
st.info("Coming soon.")

export default function mount(root) { root.textContent = "…"; }

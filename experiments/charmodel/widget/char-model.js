export default function mount(root){}

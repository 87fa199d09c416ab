// Placeholder until the CLI lands (helper-4 replaces this file).
int main() { return 0; }
